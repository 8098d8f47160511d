"""remove_attribute: delete one attribute from nodes.

Options:
  attribute_name: the attribute to delete (required, once).
  op_name: only from nodes of this op type (default '*': all nodes).

Dangerous: dropping a required attribute leaves an invalid graph. Useful to
strip attributes an older runtime does not know (e.g. `_output_shapes`,
`_class`).
"""

from alexnet.graph_tools.context import TransformError


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("attribute_name", "op_name")


def transform(graph_def, context):
  names = context.params.get("attribute_name", [])
  if len(names) != 1:
    raise TransformError("remove_attribute expects exactly one "
                         "'attribute_name' argument, e.g. "
                         "remove_attribute(op_name=Mul, attribute_name=foo)")
  op_name = context.get_one_string("op_name", "*")
  for node in graph_def.node:
    if op_name in ("*", node.op) and names[0] in node.attr:
      del node.attr[names[0]]
  return graph_def
