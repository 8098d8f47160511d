"""remove_control_dependencies: drop every control input ('^node').

Options: none.

Control inputs order nodes that do not exchange data: variable
initializers, Asserts and summaries before a training step. An inference
graph rarely needs them, and some runtimes and converters cannot run
them. Data inputs are kept; nodes that only control inputs reached stay in
the graph (strip_unused_nodes removes them). Functions in the library keep
theirs.

Check the result: an op whose side effect was ordered by a control input
(an Assert, an assignment) no longer runs before its dependents, or at all.
"""

from alexnet.graph_tools import graph_utils


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def transform(graph_def, context):
  del context  # No options.
  for node in graph_def.node:
    inputs = node.input[:]
    data = [i for i in inputs if not graph_utils.is_control(i)]
    if len(data) != len(inputs):
      del node.input[:]
      node.input.extend(data)
  return graph_def
