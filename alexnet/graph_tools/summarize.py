"""summarize_graph: what is in a GraphDef and how to call transform on it.

Prints what TensorFlow's summarize_graph prints -- likely inputs
(Placeholders with type and shape), variables, likely outputs (nodes nobody
reads that are not Const/Assign/NoOp/Placeholder), parameter counts, control
edges, devices, op-type counts -- plus the byte size of the parameters and a
ready tools/transform.py command line for the graph.
"""

import collections

import numpy as np
from tensorflow.python.framework import dtypes

from alexnet.graph_tools import graph_utils

_UNLIKELY_OUTPUTS = ("Const", "Assign", "NoOp", "Placeholder")
_VARIABLES = ("Variable", "VariableV2", "VarHandleOp")

DEFAULT_TRANSFORMS = (
    'strip_unused_nodes(type={type}, shape="{shape}") '
    "remove_nodes(op=Identity, op=CheckNumerics) "
    "fold_constants(ignore_errors=true) fold_batch_norms fold_old_batch_norms")


def human_readable(count):
  """1234567 -> '1.23M', like tensorflow::strings::HumanReadableNum."""
  for limit, suffix in ((1e15, "E"), (1e12, "T"), (1e9, "B"), (1e6, "M"),
                        (1e3, "k")):
    if abs(count) >= limit:
      return f"{count / limit:.2f}{suffix}"
  return str(count)


# TensorFlow's DataTypeString spells these differently from numpy.
_TF_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def _dtype_name(node):
  if "dtype" not in node.attr:
    return "invalid"
  name = dtypes.as_dtype(node.attr["dtype"].type).name
  return _TF_TYPE_NAMES.get(name, name)


def _dims(node):
  """List of dims (-1 unknown), or None for an unknown rank / no shape."""
  if "shape" not in node.attr or node.attr["shape"].shape.unknown_rank:
    return None
  return [d.size for d in node.attr["shape"].shape.dim]


def _node_info(node):
  dims = _dims(node)
  shape = "None" if dims is None else "[" + ",".join(
      "?" if d < 0 else str(d) for d in dims) + "]"
  dtype = node.attr["dtype"].type if "dtype" in node.attr else 0
  return f"(name={node.name}, type={_dtype_name(node)}({dtype}), shape={shape})"


def likely_inputs(graph_def):
  return [n for n in graph_def.node if n.op == "Placeholder"]


def likely_outputs(graph_def):
  read = {graph_utils.node_name(i) for n in graph_def.node for i in n.input}
  return [n for n in graph_def.node
          if n.name not in read and n.op not in _UNLIKELY_OUTPUTS]


def parameter_counts(graph_def):
  """(const elements, const bytes, variable elements, variable bytes)."""
  counts = collections.Counter()
  for node in graph_def.node:
    kind = "const" if node.op == "Const" else (
        "variable" if node.op in _VARIABLES else None)
    if kind is None:
      continue
    if node.op == "Const":
      tensor = node.attr["value"].tensor
      elements = graph_utils.num_elements(tensor)
      dtype = tensor.dtype
    else:
      dims = _dims(node) or []
      elements = int(np.prod([max(d, 0) for d in dims], dtype=np.int64))
      dtype = node.attr["dtype"].type
    size = dtypes.as_dtype(dtype).size if dtype != 0 else 0
    counts[kind] += elements
    counts[kind + "_bytes"] += elements * size
  return (counts["const"], counts["const_bytes"], counts["variable"],
          counts["variable_bytes"])


def transform_command(graph_path, inputs, outputs):
  """A tools/transform.py command line for this graph."""
  types = ",".join(sorted({_dtype_name(n) for n in inputs})) or "float"
  dims = _dims(inputs[0]) if len(inputs) == 1 else None
  shape = ",".join(str(d if d >= 0 else 1) for d in dims) if dims else ""
  transforms = DEFAULT_TRANSFORMS.format(type=types.split(",")[0],
                                         shape=shape)
  out_path = graph_path[:-3] + "_transformed.pb" if graph_path.endswith(
      ".pb") else graph_path + ".transformed.pb"
  return (f"python tools/transform.py --in_graph={graph_path} "
          f"--out_graph={out_path} "
          f"--inputs={','.join(n.name for n in inputs)} "
          f"--outputs={','.join(n.name for n in outputs)} "
          f"--transforms='{transforms}'")


def summarize(graph_def, graph_path, print_structure=False):
  """The summary as a list of lines."""
  lines = []
  inputs = likely_inputs(graph_def)
  variables = [n for n in graph_def.node if n.op in _VARIABLES]
  outputs = likely_outputs(graph_def)
  if inputs:
    lines.append(f"Found {len(inputs)} possible inputs: " +
                 " ".join(_node_info(n) for n in inputs))
  else:
    lines.append("No inputs spotted.")
  if variables:
    lines.append(f"Found {len(variables)} variables: " +
                 " ".join(_node_info(n) for n in variables))
  else:
    lines.append("No variables spotted.")
  if outputs:
    lines.append(f"Found {len(outputs)} possible outputs: " + " ".join(
        f"(name={n.name}, op={n.op})" for n in outputs))
  else:
    lines.append("No outputs spotted.")
  consts, const_bytes, variables_n, variable_bytes = parameter_counts(
      graph_def)
  control_edges = sum(1 for n in graph_def.node for i in n.input
                      if graph_utils.is_control(i))
  lines.append(f"Found {consts} ({human_readable(consts)}) const parameters "
               f"({human_readable(const_bytes)}B), {variables_n} "
               f"({human_readable(variables_n)}) variable parameters "
               f"({human_readable(variable_bytes)}B), and {control_edges} "
               "control_edges")
  devices = collections.Counter(n.device for n in graph_def.node if n.device)
  for device, count in sorted(devices.items()):
    lines.append(f"{count} nodes assigned to device '{device}'")
  ops = collections.Counter(n.op for n in graph_def.node)
  for function in graph_def.library.function:
    ops.update(n.op for n in function.node_def)
  # Most used first; ties alphabetically (the C++ map order).
  lines.append("Op types used: " + ", ".join(
      f"{count} {op}" for op, count in
      sorted(ops.items(), key=lambda item: (-item[1], item[0]))))
  lines.append("To optimize it with the Graph Transform Tool try:")
  lines.append(transform_command(graph_path, inputs, outputs))
  if print_structure:
    lines.extend(structure(graph_def))
  return lines


def structure(graph_def):
  """One line per node in execution order: name (op): [inputs], Const values."""
  nodes = list(graph_def.node)
  lines = []
  for i in graph_utils.topological_order(graph_def):
    node = nodes[i]
    line = f"{node.name} ({node.op}): [{', '.join(node.input)}]"
    if node.op == "Const":
      value = graph_utils.const_value(node)
      line += (f", value=Tensor<type: {value.dtype} shape: "
               f"{list(value.shape)} values: "
               f"{np.array2string(value.reshape(-1)[:3], separator=' ')}"
               f"{'...' if value.size > 3 else ''}>")
    lines.append(line)
  return lines
