"""add_default_attributes: write out attributes that are left at their default.

Options: none.

For every node whose op TensorFlow 2.21 knows, each attribute that the op
definition gives a default value and the node does not set is added with
that default. TensorFlow does this itself when it loads a graph; doing it
offline helps tools that read the GraphDef directly, and pins the meaning
of the graph if a later version changes a default. Ops unknown to this
TensorFlow are left alone.
"""

from tensorflow.python.framework import op_def_registry


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


_DEFAULTS = {}  # op name -> ((attribute name, default AttrValue), ...)


def _defaults(op):
  """The attributes of `op` that have a default (none for an unknown op),
  read from its OpDef once per op instead of once per node."""
  defaults = _DEFAULTS.get(op)
  if defaults is None:
    op_def = op_def_registry.get(op)
    if op_def is None:
      return ()  # Not kept: a later tf.load_op_library may register it.
    defaults = _DEFAULTS[op] = tuple(
        (attr.name, attr.default_value) for attr in op_def.attr
        if attr.HasField("default_value"))
  return defaults


def transform(graph_def, context):
  del context  # No options.
  for node in graph_def.node:
    defaults = _defaults(node.op)
    if not defaults:
      continue
    attrs = node.attr
    for name, value in defaults:
      if name not in attrs:
        attrs[name].CopyFrom(value)
  return graph_def
