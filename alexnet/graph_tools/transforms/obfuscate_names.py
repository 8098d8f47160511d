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
  new_names = {}
  index = 0
  for node in graph_def.node:
    if node.name in kept:
      new_names[node.name] = node.name
      continue
    name = _short_name(index)
    index += 1
    while name in kept:
      name = _short_name(index)
      index += 1
    new_names[node.name] = name
  for node in graph_def.node:
    for inp in node.input:
      if graph_utils.node_name(inp) not in new_names:
        raise TransformError(f"obfuscate_names: no node named '{inp}' for "
                             f"an input to {node.name}")
  for node in graph_def.node:
    node.name = new_names[node.name]
    new_inputs = []
    for inp in node.input:
      prefix, name, suffix = graph_utils.split_input(inp)
      new_inputs.append(prefix + new_names[name] + suffix)
    del node.input[:]
    node.input.extend(new_inputs)
  graph_utils.update_colocation(graph_def.node, new_names,
                                set(new_names.values()))
  return graph_def
