"""strip_unused_nodes: keep only what computing the outputs from the inputs needs.

Options:
  type: dtype for Placeholders created for inputs that are not Placeholders
    (default float).
  shape: shape for those Placeholders, as "1,227,227,3" (default scalar).
  name / type_for_name / shape_for_name: per-input overrides, given in
    matching order: name=a, type_for_name=uint8, shape_for_name="2,2".

Walks back from --outputs and stops at --inputs. Every other node is dropped
(savers, summaries, training ops, decoders in front of a deeper input). An
input that is not already a Placeholder is replaced by one, with the type
and shape above; an existing Placeholder is kept unchanged.

Use it first in a deployment pipeline, and whenever a mobile runtime reports
a missing kernel for an op that inference never runs.
"""

from tensorflow.python.framework import dtypes

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("type", "shape", "name", "type_for_name", "shape_for_name")


def _dtype(text):
  try:
    return dtypes.as_dtype(text)
  except TypeError:
    raise TransformError(f"strip_unused_nodes: unknown type '{text}'") from None


def _shape(text):
  if not text.strip():
    return []
  try:
    dims = [int(d) for d in text.split(",")]
  except ValueError:
    dims = [-1]
  if any(d < 0 for d in dims):
    raise TransformError(f"strip_unused_nodes: shape '{text}' must be "
                         "comma-separated non-negative sizes")
  return dims


def _per_name(context, key):
  names = context.params.get("name", [])
  values = context.params.get(key, [])
  if (names or values) and len(names) != len(values):
    raise TransformError(f"strip_unused_nodes: pass a '{key}' for every "
                         f"'name', e.g. name=a, {key}=..., name=b, {key}=...")
  return dict(zip(names, values))


def _placeholder_spec(context):
  """name -> (DType, dims) for a new Placeholder, from the arguments."""
  default_type = context.get_one_string("type", "float")
  default_shape = context.get_one_string("shape", "")
  types = _per_name(context, "type_for_name")
  shapes = _per_name(context, "shape_for_name")
  def spec(name):
    return (_dtype(types.get(name, default_type)),
            _shape(shapes.get(name, default_shape)))
  # Checked before any change so that ignore_errors leaves the graph as is.
  spec("")
  for name in set(types) | set(shapes):
    spec(name)
  return spec


def transform(graph_def, context):
  context.require_outputs()
  spec = _placeholder_spec(context)
  input_nodes = {graph_utils.node_name(i) for i in context.input_names}
  try:
    required = input_nodes | graph_utils.needed_nodes(
        graph_def, context.output_names, input_nodes)
  except KeyError as e:
    raise TransformError(f"strip_unused_nodes: node {e} is not in the "
                         "graph") from None
  graph_utils.keep_nodes(graph_def, required)
  for node in graph_def.node:
    if node.name in input_nodes and node.op != "Placeholder":
      dtype, dims = spec(node.name)
      name = node.name
      node.Clear()
      node.name = name
      node.op = "Placeholder"
      node.attr["dtype"].type = dtype.as_datatype_enum
      shape = node.attr["shape"].shape
      for d in dims:
        shape.dim.add(size=d)
  return graph_def
