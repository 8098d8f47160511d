"""insert_logging: print the values of chosen nodes each time they run.

Options:
  op (repeatable): log nodes of these op types (default: every op);
  prefix (repeatable): log nodes whose names start with one of these
    (default: every name); a node must match both when both are given;
  message: text to print before the values; show_name, show_op (false):
    prefix the message with ";NAME__print__;" / ";OP;";
  first_n (-1: always): print only the first N runs; summarize (1024): at
  most this many elements of each value.

Every matching node that something reads gets a Print `NAME__print__`
that passes output 0 through and prints each output that is read; what
read `NAME:0` reads the Print instead, so it runs whenever the node's
result is used. TensorFlow's Print writes to stderr (the C++ log), one line
per run: `MESSAGE[v0 v1 ...][...]`.

With op=RequantizationRange, show_name=true, message="__requant_min_max:"
it logs the ranges that freeze_requantization_ranges reads back (see the
calibration workflow in docs/graph_transforms.md).
"""

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import matching
from alexnet.graph_tools.context import TransformError

# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("op", "prefix", "message", "show_name", "show_op", "first_n",
        "summarize")

SUFFIX = "__print__"


def transform(graph_def, context):
  ops = set(context.params.get("op", []))
  prefixes = tuple(context.params.get("prefix", []))
  message = context.get_one_string("message", "")
  show_name = context.get_one_bool("show_name", False)
  show_op = context.get_one_bool("show_op", False)
  first_n = context.get_one_int("first_n", -1)
  summarize = context.get_one_int("summarize", 1024)
  read = {}
  for node in graph_def.node:
    for inp in node.input:
      read.setdefault(graph_utils.node_name(inp), set()).add(
          graph_utils.output_index(inp))
  renames, prints = {}, []
  for node in graph_def.node:
    if node.name not in read:
      continue
    if ops and node.op not in ops:
      continue
    if prefixes and not node.name.startswith(prefixes):
      continue
    types = graph_utils.in_out_types(node)
    if types is None or not types[1]:
      raise TransformError(f"insert_logging: cannot log '{node.name}': op "
                           f"'{node.op}' is unknown to TensorFlow 2.21 or "
                           "has no outputs")
    outputs = types[1]
    slots = sorted(read[node.name])
    name = node.name + SUFFIX
    text = (f";{node.op};" if show_op else "") + (
        f";{name};" if show_name else "") + message
    log = graph_def.node.add(name=name, op="Print", device=node.device)
    log.input.append(node.name + ":0")
    log.input.extend(f"{node.name}:{slot}" for slot in slots)
    log.attr["T"].type = outputs[0]
    # One type per logged output (the C++ tool lists every output's type,
    # which does not import when some output is not read).
    log.attr["U"].list.type.extend(outputs[slot] for slot in slots)
    log.attr["message"].s = text.encode()
    log.attr["first_n"].i = first_n
    log.attr["summarize"].i = summarize
    renames[node.name + ":0"] = name + ":0"
    prints.append(name)
  matching.rename_node_inputs(graph_def, renames, ignore=set(prints))
  return graph_def
