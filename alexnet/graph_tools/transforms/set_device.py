"""set_device: place nodes on one device.

Options:
  device: the device string every node gets, e.g. /device:GPU:0 or
    /job:worker/task:1 (default '': no device, which clears it).
  if_default: only set it on nodes that have no device yet (default false).

The device is written as given (TensorFlow parses it when it places the
graph); a string TensorFlow cannot parse is an error. Use it to pin a
graph, or the nodes left unplaced, to the device it will run on; with
if_default=true the placements the graph already has are kept.
"""

import tensorflow as tf

from alexnet.graph_tools.context import TransformError


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("device", "if_default")


def transform(graph_def, context):
  device = context.get_one_string("device", "")
  if_default = context.get_one_bool("if_default", False)
  try:
    tf.DeviceSpec.from_string(device)
  except ValueError as e:
    raise TransformError(f"set_device: 'device' must be a device such as "
                         f"/device:GPU:0, got {device!r} ({e})") from None
  for node in graph_def.node:
    if not if_default or not node.device:
      node.device = device
  return graph_def
