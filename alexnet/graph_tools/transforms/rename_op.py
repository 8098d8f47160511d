"""rename_op: change the op type of every node of one type.

Options:
  old_op_name: the op type to replace (required, once).
  new_op_name: the op type those nodes get (required, once).

Only the `op` field changes; inputs and attributes stay, so the new op must
take the same ones. The new type need not be one TensorFlow knows: a
runtime with a custom kernel, or a converter that expects another name, is
the usual reason to rename (e.g. rename_op(old_op_name=Mul,
new_op_name=Multiply)). It is an error when no node has old_op_name.
"""

import re

from alexnet.graph_tools.context import TransformError

# Op type names as TensorFlow writes them (leading '_' for internal ops).
_OP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_>]*\Z")


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("old_op_name", "new_op_name")


def transform(graph_def, context):
  for key in ("old_op_name", "new_op_name"):
    if len(context.params.get(key, [])) != 1:
      raise TransformError(
          "rename_op expects exactly one 'old_op_name' and one 'new_op_name' "
          "argument, e.g. rename_op(old_op_name=Mul, new_op_name=Multiply)")
  old = context.params["old_op_name"][0]
  new = context.params["new_op_name"][0]
  if not _OP_NAME.match(new):
    raise TransformError(f"rename_op: 'new_op_name' must be an op type name "
                         f"(letters, digits, '_'), got {new!r}")
  nodes = [node for node in graph_def.node if node.op == old]
  if not nodes:
    raise TransformError(f"rename_op: no node has the op type {old!r} given "
                         "as 'old_op_name'")
  for node in nodes:
    node.op = new
  return graph_def
