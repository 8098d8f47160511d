"""merge_duplicate_nodes: keep one of each set of nodes that compute the same.

Options: none.

Two nodes are duplicates when they have the same op, inputs (in order,
'a' and 'a:0' alike), device and attributes, Const values included, and
the op is not stateful; the first in file order stays and readers of the
others read it instead (same output slot), and colocation hints (`_class`,
loc:@NAME) naming them name it. Merging makes their consumers
duplicates in turn, so it repeats until nothing changes. Nodes named in
--inputs or --outputs keep their names and are never merged. Ops
TensorFlow 2.21 does not know (custom ops, calls of library functions)
are never merged, since they may be stateful.

Use it on graphs built by code that adds the same Const or the same
preprocessing more than once, typically before fold_constants.
"""

import hashlib

from tensorflow.python.framework import op_def_registry

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import tensor_store


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def _mergeable(op):
  op_def = op_def_registry.get(op)
  return op_def is not None and not op_def.is_stateful


class _Signatures:
  """What makes nodes duplicates, with each stored Const content hashed once
  (a node's attributes and content change between rounds only where a
  colocation hint named a merged node: see forget)."""

  def __init__(self, tensors, keep_names):
    self._tensors = tensors
    self._keep_names = keep_names
    self._attrs = {}

  def _attr_key(self, node):
    key = self._attrs.get(node.name)
    if key is None:
      # A detached content is only a store key in the node: hash the bytes.
      content = b""
      if tensor_store.MARKER in node.attr:
        content = hashlib.sha256(
            self._tensors.value(node).reshape(-1).view("u1")).digest()
      key = (content,) + tuple(
          (name, node.attr[name].SerializeToString(deterministic=True))
          for name in sorted(node.attr) if name != tensor_store.MARKER)
      self._attrs[node.name] = key
    return key

  def forget(self, node):
    self._attrs.pop(node.name, None)

  def of(self, node):
    inputs = []
    for inp in node.input:
      prefix, name, suffix = graph_utils.split_input(inp)
      inputs.append(prefix + name + (suffix or ":0"))
    name = node.name if node.name in self._keep_names else ""
    return (node.op, name, tuple(inputs), node.device, self._attr_key(node))


def _merge_once(graph_def, signatures):
  """One round: removes the duplicates found now; False if there were none."""
  first = {}
  merged = {}
  for node in graph_def.node:
    if not _mergeable(node.op):
      continue
    signature = signatures.of(node)
    if signature in first:
      merged[node.name] = first[signature]
    else:
      first[signature] = node.name
  if not merged:
    return False
  for node in graph_def.node:
    inputs = list(node.input)
    changed = False
    for pos, inp in enumerate(inputs):
      prefix, name, suffix = graph_utils.split_input(inp)
      if name in merged:
        inputs[pos] = prefix + merged[name] + suffix
        changed = True
    if changed:
      del node.input[:]
      node.input.extend(inputs)
  # Hints that named a merged node name the one kept; those nodes' attributes
  # changed, so their signatures are computed again.
  for node in graph_utils.update_colocation(graph_def.node, merged):
    signatures.forget(node)
  graph_utils.keep_nodes(graph_def,
                         {n.name for n in graph_def.node} - set(merged))
  return True


def transform(graph_def, context):
  keep_names = {graph_utils.node_name(n)
                for n in context.input_names + context.output_names}
  signatures = _Signatures(context.tensors, keep_names)
  while _merge_once(graph_def, signatures):
    pass
  return graph_def
