"""remove_nodes: splice out nodes of the given op types.

Options:
  op: op type to remove; repeat it for several (op=Identity, op=CheckNumerics).
  max_inputs: remove nodes with up to this many data inputs (default 1).

A removed node's consumers read its first data input instead (the same
output slot); control dependencies on it move to that input's node. The
removed node's own control inputs are dropped, as in the C++ tool. Nodes
named in --inputs or --outputs are never removed.

Use it to drop Identity and CheckNumerics nodes left over from training
before folding constants or batch norms. It changes results if an op does
more than pass its input through, so check accuracy afterwards.
"""

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("op", "max_inputs")


def transform(graph_def, context):
  ops = context.params.get("op")
  if not ops:
    raise TransformError("remove_nodes expects at least one 'op' argument, "
                         "e.g. remove_nodes(op=Identity)")
  max_inputs = context.get_one_int("max_inputs", 1)
  required = {graph_utils.node_name(n)
              for n in context.input_names + context.output_names}
  ops = set(ops)
  # Removed node name -> the input string that replaces it.
  forward = {}
  for node in graph_def.node:
    if node.op not in ops or node.name in required:
      continue
    inputs = graph_utils.data_inputs(node)
    if 1 <= len(inputs) <= max_inputs:
      forward[node.name] = inputs[0]
  # A node read at another slot than 0 is not a pass-through: keep it.
  for node in graph_def.node:
    for inp in graph_utils.data_inputs(node):
      if graph_utils.output_index(inp) != 0:
        forward.pop(graph_utils.node_name(inp), None)

  def resolve(inp):
    # Follows chains of removed nodes (Identity -> Identity -> Const).
    seen = set()
    while graph_utils.node_name(inp) in forward:
      name = graph_utils.node_name(inp)
      if name in seen:
        raise TransformError(f"remove_nodes: '{name}' is in a cycle of "
                             "removed nodes")
      seen.add(name)
      inp = forward[name]
    return inp

  # Resolved before any edit so that an error leaves the graph unchanged.
  resolved = {name: resolve(name) for name in forward}
  for node in graph_def.node:
    if node.name in forward:
      continue
    new_inputs = []
    changed = False
    for inp in node.input:
      if graph_utils.node_name(inp) in forward:
        changed = True
        if graph_utils.is_control(inp):
          target = "^" + graph_utils.node_name(resolved[inp[1:]])
          if target in new_inputs:
            continue
          inp = target
        else:
          inp = resolved[graph_utils.node_name(inp)]
      new_inputs.append(inp)
    if changed:
      del node.input[:]
      node.input.extend(new_inputs)
  keep = {n.name for n in graph_def.node} - set(forward)
  graph_utils.keep_nodes(graph_def, keep)
  return graph_def
