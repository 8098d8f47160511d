"""freeze_requantization_ranges: logged ranges replace RequantizationRange.

Options:
  min_max_log_file (required): a log of the graph after
    insert_logging(op=RequantizationRange, show_name=true,
    message="__requant_min_max:"), from runs on representative inputs;
  min_percentile, max_percentile (5): the share of the lowest minima and of
    the highest maxima logged for a node that is ignored.

Each line of the log holding `NAME__print__;__requant_min_max:[MIN][MAX]`
is one run of RequantizationRange NAME (other lines are skipped). For each
such node, of its logged minima sorted ascending the one at
round(count * min_percentile / 100) is taken, of its maxima the one at
round(count * (1 - max_percentile / 100)) (at most the last), and the node
becomes two float Consts `NAME/frozen_min` and `NAME/frozen_max` that its
readers read instead; the Requantize ops then scale with fixed ranges.
"""

import math
import os

import numpy as np

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import matching
from alexnet.graph_tools.context import TransformError

# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("min_max_log_file", "min_percentile", "max_percentile")

PRINT_SUFFIX = "__print__"
MESSAGE = "__requant_min_max:"


def _fail(message):
  return TransformError(f"freeze_requantization_ranges: {message}")


def _number(text):
  try:
    return np.float32(text)
  except ValueError:
    return None


def _record(line):
  """(node name, min, max) of one logged line, or None, parsed the way the
  C++ tool parses it."""
  if PRINT_SUFFIX + ";" + MESSAGE not in line:
    return None
  parts = line.split(";")
  at = None
  for i in range(1, len(parts)):
    if parts[i].startswith(MESSAGE):
      at = i
  if at is None:
    return None
  pieces = parts[at].split("[")
  if len(pieces) != 3 or pieces[0] != MESSAGE:
    return None
  values = []
  for piece in pieces[1:]:
    inner = piece.split("]")
    if len(inner) != 2:
      return None
    values.append(_number(inner[0]))
  name = parts[at - 1]
  if None in values or not name.endswith(PRINT_SUFFIX):
    return None
  return name[:-len(PRINT_SUFFIX)], values[0], values[1]


def read_ranges(path):
  """{RequantizationRange name: ([mins], [maxes])} logged in `path`."""
  if not os.path.isfile(path):
    raise _fail(f"min_max_log_file {path} does not exist: run the graph "
                "after insert_logging(op=RequantizationRange, show_name=true,"
                ' message="__requant_min_max:") and capture its stderr there')
  ranges = {}
  with open(path, errors="replace") as f:
    for line in f:
      record = _record(line.rstrip("\n"))
      if record is not None:
        mins, maxes = ranges.setdefault(record[0], ([], []))
        mins.append(record[1])
        maxes.append(record[2])
  if not ranges:
    raise _fail(f"min_max_log_file {path} holds no {MESSAGE} ranges: it "
                "must be the stderr of the graph with insert_logging("
                'op=RequantizationRange, show_name=true, message='
                '"__requant_min_max:") run on representative inputs')
  return ranges


def _round(x):
  # std::round: halves away from zero (x >= 0 here).
  return int(math.floor(x + 0.5))


def pick(mins, maxes, min_percentile, max_percentile):
  """The frozen (min, max) of one node's logged ranges."""
  mins, maxes = sorted(mins), sorted(maxes)
  low = max(_round(np.float32(len(mins)) *
                   np.float32(min_percentile / np.float32(100))), 0)
  high = min(_round(np.float32(len(maxes)) *
                    (np.float32(1) - np.float32(max_percentile) /
                     np.float32(100))), len(maxes) - 1)
  return mins[min(low, len(mins) - 1)], maxes[max(high, 0)]


def transform(graph_def, context):
  path = context.get_one_string("min_max_log_file", "")
  if not path:
    raise _fail("min_max_log_file is required: the log of the "
                "insert_logging run (see docs/graph_transforms.md)")
  min_percentile = context.get_one_float("min_percentile", 5.0)
  max_percentile = context.get_one_float("max_percentile", 5.0)
  ranges = read_ranges(path)
  nodes = graph_utils.node_map(graph_def)
  missing = sorted(set(ranges) - set(nodes))
  if missing:
    raise _fail(f"min_max_log_file {path} logs nodes that are not in the "
                f"graph ({', '.join(missing[:3])}): give the graph that was "
                "logged, before insert_logging")
  wrong = sorted(n for n in ranges if nodes[n].op != "RequantizationRange")
  if wrong:
    raise _fail(f"'{wrong[0]}' is a {nodes[wrong[0]].op}, not a "
                "RequantizationRange: log with op=RequantizationRange")
  renames, sequence = {}, []
  for node in graph_def.node:
    if node.name not in ranges:
      sequence.append(node)
      continue
    low, high = pick(*ranges[node.name], min_percentile, max_percentile)
    for slot, (suffix, value) in enumerate((("frozen_min", low),
                                            ("frozen_max", high))):
      const = graph_utils.set_const(type(node)(), f"{node.name}/{suffix}",
                                    np.float32(value))
      const.device = node.device
      sequence.append(const)
      renames[f"{node.name}:{slot}"] = const.name + ":0"
  matching.set_nodes(graph_def, sequence, nodes)
  matching.rename_node_inputs(graph_def, renames)
  graph_utils.update_colocation(graph_def.node,
                                existing={n.name for n in graph_def.node})
  return graph_def
