"""remove_device: clear every node's device placement.

Options: none.

A graph trained with ops pinned to '/gpu:0' or to a parameter server
cannot be placed on a machine without those devices. This empties the
`device` field of every node so the runtime places them freely.

Use it before deploying a graph on different hardware than it was built on.
"""


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def transform(graph_def, context):
  del context  # No options.
  for node in graph_def.node:
    node.ClearField("device")
  return graph_def
