"""sort_by_execution_order: order nodes so every node follows its inputs.

Options: none.

Topological sort that counts control inputs too and keeps ready nodes on a
stack exactly like the C++ tool, so the order is the reference's order; a
Merge waits only for its non-NextIteration inputs so while-loops sort.
Nodes are moved, not copied.

Use it for minimal inference engines that run nodes in file order, or to
make two graphs comparable line by line.
"""

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def transform(graph_def, context):
  del context  # No options.
  try:
    order = graph_utils.topological_order(graph_def)
  except ValueError as e:
    raise TransformError(f"sort_by_execution_order: {e}") from None
  position = {graph_def.node[i].name: rank for rank, i in enumerate(order)}
  graph_def.node.sort(key=lambda node: position[node.name])
  return graph_def
