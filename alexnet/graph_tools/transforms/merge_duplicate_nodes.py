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

  def of(self, node, identity):
    """What must be equal for `node` to duplicate another: its inputs by the
    identity of the node they read (`identity`: name -> a number equal for
    duplicates; a node not in it stands for itself, by name)."""
    inputs = []
    for inp in node.input[:]:
      prefix, name, suffix = graph_utils.split_input(inp)
      inputs.append((prefix, identity.get(name, name), suffix or ":0"))
    name = node.name if node.name in self._keep_names else ""
    return (node.op, name, tuple(inputs), node.device, self._attr_key(node))


def _merge_pass(graph_def, signatures):
  """Finds every set of duplicates in one pass in execution order, each
  node's inputs compared by the identity of the set they belong to, so that
  a chain of duplicates merges at once. Returns ({merged name: kept name},
  whether a node read one not yet identified, a Merge's NextIteration)."""
  nodes = list(graph_def.node)
  try:
    order = graph_utils.topological_order(graph_def)
  except ValueError:
    order = range(len(nodes))  # A cycle: later passes finish the job.
  done = set()
  # Node name -> the number of its signature, for the mergeable nodes
  # visited (numbers, not the signatures, keep signatures flat); others
  # stand for themselves by name.
  identity = {}
  numbers = {}
  members = {}  # signature number -> file positions of the nodes with it
  deferred = False
  for i in order:
    node = nodes[i]
    if _mergeable(node.op):
      signature = signatures.of(node, identity)
      deferred = deferred or any(isinstance(ident, str) and ident not in done
                                 for _, ident, _ in signature[2])
      number = identity[node.name] = numbers.setdefault(signature,
                                                        len(numbers))
      members.setdefault(number, []).append(i)
    done.add(node.name)
  merged = {}
  for positions in members.values():
    if len(positions) > 1:
      # The first in file order stays.
      kept = nodes[min(positions)].name
      merged.update((nodes[p].name, kept) for p in positions
                    if nodes[p].name != kept)
  return merged, deferred


def _apply(graph_def, merged, signatures):
  """Readers of merged nodes read the kept ones; returns whether a
  colocation hint changed (those nodes' signatures change)."""
  for node in graph_def.node:
    inputs = node.input[:]
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
  hinted = graph_utils.update_colocation(graph_def.node, merged)
  for node in hinted:
    signatures.forget(node)
  graph_utils.keep_nodes(graph_def,
                         {n.name for n in graph_def.node} - set(merged))
  return bool(hinted)


def transform(graph_def, context):
  keep_names = {graph_utils.node_name(n)
                for n in context.input_names + context.output_names}
  signatures = _Signatures(context.tensors, keep_names)
  while True:
    merged, deferred = _merge_pass(graph_def, signatures)
    if not merged:
      return graph_def
    # One pass finds every merge, unless a hint changed or a node read one
    # identified only after it (loops): then the next pass looks again.
    if not _apply(graph_def, merged, signatures) and not deferred:
      return graph_def
