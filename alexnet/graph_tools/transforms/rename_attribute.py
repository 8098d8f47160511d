"""rename_attribute: give an attribute a new name, keeping its value.

Options:
  old_attribute_name: the current name (required, once).
  new_attribute_name: the new name (required, once).
  op_name: only on nodes of this op type (default '*': all nodes).

Op definitions sometimes rename an attribute between versions; renaming it
in the graph is often all an upgrade needs.
"""

from alexnet.graph_tools.context import TransformError


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("old_attribute_name", "new_attribute_name", "op_name")


def transform(graph_def, context):
  for key in ("old_attribute_name", "new_attribute_name"):
    if len(context.params.get(key, [])) != 1:
      raise TransformError(
          "rename_attribute expects exactly one 'old_attribute_name' and one "
          "'new_attribute_name' argument, e.g. rename_attribute("
          "old_attribute_name=foo, new_attribute_name=bar)")
  old = context.params["old_attribute_name"][0]
  new = context.params["new_attribute_name"][0]
  op_name = context.get_one_string("op_name", "*")
  for node in graph_def.node:
    if op_name in ("*", node.op) and old in node.attr:
      node.attr[new].CopyFrom(node.attr[old])
      del node.attr[old]
  return graph_def
