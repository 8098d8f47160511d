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


def transform(graph_def, context):
  del context  # No options.
  for node in graph_def.node:
    op_def = op_def_registry.get(node.op)
    if op_def is None:
      continue
    for attr in op_def.attr:
      if attr.HasField("default_value") and attr.name not in node.attr:
        node.attr[attr.name].CopyFrom(attr.default_value)
  return graph_def
