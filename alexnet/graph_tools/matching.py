"""Op-type patterns: finding and replacing subgraphs as the C++ tool does.

The Python counterpart of the C++ GraphMatcher, ReplaceMatchingOpTypes and
RenameNodeInputs, for the transforms written as pattern rewrites
(quantize_nodes). A Pattern is an op type ('*' for any, 'A|B' for either)
and the patterns of the node's data inputs, in order; no input patterns
means the node's inputs are not looked at. Nodes are visited in execution
order and a node belongs to at most one match, as in the C++ matcher.

Replacing keeps the graph's existing NodeDefs where the generator returns
them unchanged (they are never copied, so large Consts stay where they
are) and adds the new ones, in the place of the match they replace.
"""

import collections

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError

Pattern = collections.namedtuple("Pattern", "op inputs", defaults=((),))
# node: the NodeDef; inputs: a Match per input pattern.
Match = collections.namedtuple("Match", "node inputs")


def _match(node, pattern, nodes, claimed):
  if node.name in claimed:
    return None
  if pattern.op != "*" and node.op not in pattern.op.split("|"):
    return None
  if not pattern.inputs:
    return Match(node, ())
  data = graph_utils.data_inputs(node)
  if len(data) != len(pattern.inputs):
    return None
  inputs = []
  for inp, sub in zip(data, pattern.inputs):
    source = nodes.get(graph_utils.node_name(inp))
    found = None if source is None else _match(source, sub, nodes, claimed)
    if found is None:
      return None
    inputs.append(found)
  return Match(node, tuple(inputs))


def matched_nodes(match):
  """The distinct NodeDefs of a match, breadth first from its head."""
  seen, result, level = set(), [], [match]
  while level:
    following = []
    for m in level:
      if m.node.name in seen:
        continue
      seen.add(m.node.name)
      result.append(m.node)
      following.extend(m.inputs)
    level = following
  return result


def find_matches(graph_def, pattern, nodes=None):
  """The non-overlapping matches of `pattern`, heads in execution order."""
  nodes = nodes if nodes is not None else graph_utils.node_map(graph_def)
  try:
    order = graph_utils.topological_order(graph_def)
  except ValueError as e:
    raise TransformError(str(e)) from None
  claimed, matches = set(), []
  for i in order:
    found = _match(graph_def.node[i], pattern, nodes, claimed)
    if found is not None:
      claimed.update(n.name for n in matched_nodes(found))
      matches.append(found)
  return matches


def replace_matches(graph_def, pattern, generate, allow_inconsistencies=False):
  """Replaces every match of `pattern` by what `generate` returns, in place.

  `generate(match, input_nodes, output_nodes)` gets the names of the
  match's nodes that read from outside it and of those read from outside
  it, and returns the NodeDefs to put there: the match's own (unchanged,
  or they are taken for new ones) and new ones. Unless
  allow_inconsistencies, a replacement that drops a node read from outside
  is not made (the match is kept as it was), as in the C++ tool.
  """
  nodes = graph_utils.node_map(graph_def)
  matches = find_matches(graph_def, pattern, nodes)
  if not matches:
    return
  readers = collections.defaultdict(set)
  for node in graph_def.node:
    for inp in node.input:
      readers[graph_utils.node_name(inp)].add(node.name)
  replacements, claimed = {}, set()
  for found in matches:
    members = matched_nodes(found)
    names = {n.name for n in members}
    claimed |= names
    input_nodes = {n.name for n in members
                   if any(graph_utils.node_name(i) not in names
                          for i in n.input)}
    output_nodes = {n.name for n in members if readers[n.name] - names}
    new_nodes = generate(found, input_nodes, output_nodes)
    if not allow_inconsistencies and output_nodes - {n.name
                                                     for n in new_nodes}:
      new_nodes = members
    replacements[found.node.name] = new_nodes
  sequence = []
  for node in graph_def.node:
    if node.name in replacements:
      sequence.extend(replacements[node.name])
    elif node.name not in claimed:
      sequence.append(node)
  set_nodes(graph_def, sequence, nodes)


def set_nodes(graph_def, sequence, nodes):
  """Makes `sequence` the graph's node list, in place: its entries that are
  NodeDefs of the graph (`nodes`, name -> NodeDef, from before any change)
  are moved, the others copied in."""
  kept = {n.name: pos for pos, n in enumerate(sequence)
          if nodes.get(n.name) is n}
  total = len(sequence) + len(graph_def.node)
  graph_def.node.sort(key=lambda n: kept.get(n.name, total))
  del graph_def.node[len(kept):]
  position = dict(kept)
  for pos, node in enumerate(sequence):
    if nodes.get(node.name) is not node:
      graph_def.node.add().CopyFrom(node)
      position[node.name] = pos
  graph_def.node.sort(key=lambda n: position[n.name])


def rename_node_inputs(graph_def, renames, ignore=()):
  """Rewrites inputs as the C++ RenameNodeInputs does.

  `renames` maps an input ('x', 'x:1'; 'x' is 'x:0') to what reads it
  instead, or 'x:*' (any output of x, control inputs included) to a node
  name that keeps the slot. A renamed input is looked up again, so renames
  chain. Nodes named in `ignore` keep their inputs.
  """
  by_node = collections.defaultdict(list)
  for source, dest in renames.items():
    by_node[graph_utils.node_name(source)].append((source, dest))

  def canonical(name):
    prefix, node, suffix = graph_utils.split_input(name)
    return prefix + node + (suffix or ":0")

  for node in graph_def.node:
    if node.name in ignore:
      continue
    new_inputs, changed = [], False
    for inp in node.input:
      visited = set()
      while graph_utils.node_name(inp) in by_node:
        name = graph_utils.node_name(inp)
        if name in visited:
          raise TransformError(f"renaming inputs loops at '{name}'")
        visited.add(name)
        found = False
        for source, dest in by_node[name]:
          if source.endswith(":*"):
            prefix, _, suffix = graph_utils.split_input(inp)
            inp, found = prefix + dest + suffix, True
          elif canonical(source) == canonical(inp):
            inp, found = dest, True
        if not found:
          break
        changed = True
      new_inputs.append(inp)
    if changed:
      del node.input[:]
      node.input.extend(new_inputs)
