"""obfuscate_names: replace node names by short generated ids.

Options: none.

Every node except those named in --inputs and --outputs gets a name counted
in base 62 ('0'..'9', 'a'..'z', 'A'..'Z') in file order, skipping ids that
equal a kept name; all inputs, and the colocation hints (`_class`,
loc:@NAME), are rewritten to match. The graph computes
exactly what it did, so a converter can still be pointed at the same input
and output names.

Use it to shrink a graph with many small nodes or to hide its structure
before publishing it. Pass the names you will feed and fetch as --inputs and
--outputs, or they are renamed too. Unlike the C++ tool, 'name:0' keeps
'name'.
"""

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError

_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def _short_name(index):
  digits = []
  while True:
    index, rem = divmod(index, len(_CHARS))
    digits.append(_CHARS[rem])
    if index == 0:
      return "".join(reversed(digits))


def transform(graph_def, context):
  kept = {graph_utils.node_name(n)
          for n in context.input_names + context.output_names}
  nodes = graph_def.node
  names = [node.name for node in nodes]
  new_names = {}
  index = 0
  for old in names:
    if old in kept:
      new_names[old] = old
      continue
    name = _short_name(index)
    index += 1
    while name in kept:
      name = _short_name(index)
      index += 1
    new_names[old] = name
  # Every input is renamed before the graph changes, so that an error leaves
  # it as it was. Most inputs are plain node names: looked up, not parsed.
  renamed = []
  for node in nodes:
    inputs = node.input[:]
    for pos, inp in enumerate(inputs):
      new = new_names.get(inp)
      if new is None:
        prefix, name, suffix = graph_utils.split_input(inp)
        if name not in new_names:
          raise TransformError(f"obfuscate_names: no node named '{inp}' for "
                               f"an input to {node.name}")
        new = prefix + new_names[name] + suffix
      inputs[pos] = new
    renamed.append(inputs)
  for node, old, inputs in zip(nodes, names, renamed):
    node.name = new_names[old]
    if inputs:
      del node.input[:]
      node.input.extend(inputs)
  graph_utils.update_colocation(nodes, new_names, set(new_names.values()))
  return graph_def
