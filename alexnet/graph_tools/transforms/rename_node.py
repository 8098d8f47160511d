"""rename_node: give one node a new name, rewiring the nodes that read it.

Options:
  old_node_name: the node's current name (required, once).
  new_node_name: its new name (required, once; no other node may have it).

Every input that reads the node (any output slot, or as a control input)
follows it, and so do the colocation hints (`_class`, loc:@NAME) naming it. Use it to give an output a name a runtime or converter
expects, e.g. rename_node(old_node_name=super/deep/output,
new_node_name=output). A node named in --inputs or --outputs cannot be
renamed in the same run, since later steps look for it by that name: rename
it in a run that does not list it.
"""

import re

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError

# Node names TensorFlow accepts when it imports a graph.
NODE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*\Z")


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("old_node_name", "new_node_name")


def transform(graph_def, context):
  for key in ("old_node_name", "new_node_name"):
    if len(context.params.get(key, [])) != 1:
      raise TransformError(
          "rename_node expects exactly one 'old_node_name' and one "
          "'new_node_name' argument, e.g. rename_node("
          "old_node_name=super/deep/output, new_node_name=output)")
  old = context.params["old_node_name"][0]
  new = context.params["new_node_name"][0]
  if not NODE_NAME.match(new):
    raise TransformError(f"rename_node: 'new_node_name' must be a node name "
                         f"(letters, digits, '_', '.', '-', '/'), got {new!r}")
  nodes = graph_utils.node_map(graph_def)
  if old not in nodes:
    raise TransformError(f"rename_node: 'old_node_name' {old!r} is not a node "
                         "of the graph")
  if new in nodes:
    raise TransformError(f"rename_node: 'new_node_name' {new!r} is already "
                         "the name of a node")
  requested = {graph_utils.node_name(n)
               for n in context.input_names + context.output_names}
  if old in requested:
    raise TransformError(f"rename_node: 'old_node_name' {old!r} is named in "
                         "--inputs/--outputs; rename it in a run that does "
                         "not list it")
  nodes[old].name = new
  for node in graph_def.node:
    inputs = node.input[:]
    renamed = False
    for pos, inp in enumerate(inputs):
      if old in inp:  # A substring test before the parse.
        prefix, name, suffix = graph_utils.split_input(inp)
        if name == old:
          inputs[pos] = prefix + new + suffix
          renamed = True
    if renamed:
      del node.input[:]
      node.input.extend(inputs)
  graph_utils.update_colocation(graph_def.node, {old: new})
  return graph_def
