"""backport_concatv2: rewrite ConcatV2 as the older Concat op.

Options: none.

ConcatV2(values..., axis) becomes Concat(axis, values...) under the same
name: the axis moves from the last data input to the first, and the Tidx
attribute (Concat has none) is dropped. Control inputs stay last.

Use it for runtimes older than ConcatV2 (TensorFlow before 1.0) or
converters that only know Concat. Concat takes an int32 axis only, so a
ConcatV2 with an int64 axis is an error naming the node (nothing is
changed).
"""

from tensorflow.core.framework import types_pb2

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError

# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def transform(graph_def, context):
  concats = [n for n in graph_def.node if n.op == "ConcatV2"]
  for node in concats:
    if "Tidx" in node.attr and node.attr["Tidx"].type != types_pb2.DT_INT32:
      raise TransformError(f"{context.name}: '{node.name}' has an int64 axis "
                           "(Tidx); Concat takes int32 only")
  for node in concats:
    data = graph_utils.data_inputs(node)
    # The C++ tool moves the last input, a control input if there is one.
    inputs = [data[-1]] + data[:-1] + [i for i in node.input
                                       if graph_utils.is_control(i)]
    del node.input[:]
    node.input.extend(inputs)
    node.op = "Concat"
    if "Tidx" in node.attr:
      del node.attr["Tidx"]
  return graph_def
