"""flatten_atrous_conv: turn SpaceToBatchND/conv/BatchToSpaceND into one conv.

Options: none.

TensorFlow writes a dilated ("atrous") convolution (`tf.nn.atrous_conv2d`,
`tf.nn.convolution` or `depthwise_conv2d` with dilations > 1) as
BatchToSpaceND(conv(SpaceToBatchND(x, block, paddings), filter), block,
crops). This rewrites the three into one Conv2D or DepthwiseConv2dNative
on x under the BatchToSpaceND's name, with the filter upsampled: block - 1
zeros between its taps, in the filter Const itself. The padding is what the
paddings minus the crops leave: SAME or VALID.

Use it for runtimes without SpaceToBatchND/BatchToSpaceND, or whose
convolutions are faster than the three ops (the upsampled filter costs more
multiplications). Needs block shape, paddings, crops and filter as Consts
(run fold_constants first if they are computed), the convolution with
stride 1, VALID, NHWC and no dilations of its own, and the same block shape
on both sides. A match is skipped when the convolution, the SpaceToBatchND
or the filter is read by another node or is a requested input or output,
or when the net padding is neither SAME nor VALID.
"""

import numpy as np
from tensorflow.core.framework import attr_value_pb2

from alexnet.graph_tools import folding
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.transforms.fuse_pad_and_conv import attr
from alexnet.graph_tools.transforms.fuse_pad_and_conv import control_inputs
from alexnet.graph_tools.transforms.fuse_pad_and_conv import replace_attrs

# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()

_CONVS = ("Conv2D", "DepthwiseConv2dNative")


def _input_node(nodes, node, position):
  inputs = graph_utils.data_inputs(node)
  return nodes.get(graph_utils.node_name(inputs[position]))


def _consts(nodes, node, tensors):
  """Values of the Const data inputs 1 and 2 of `node`, or None."""
  values = []
  for position in (1, 2):
    const = _input_node(nodes, node, position)
    if const is None or const.op != "Const":
      return None
    values.append(tensors.value(const))
  return values


def _padding(filter_shape, block, paddings, crops):
  """'SAME' or 'VALID' for what the space-to-batch round trip pads, or None.

  The round trip is a dilated VALID convolution of x padded by paddings,
  then cropped by crops: the same as padding x by paddings - crops.
  """
  net = paddings - crops
  if not net.any():
    return "VALID"
  total = (np.asarray(filter_shape[:2]) - 1) * block
  if (net[:, 0] == total // 2).all() and (net[:, 1] == total - total // 2
                                          ).all():
    return "SAME"
  return None


def _match(b2s, nodes, readers, protected, tensors):
  """(conv, SpaceToBatchND, filter, padding, block) or None."""
  if b2s.op != "BatchToSpaceND" or len(graph_utils.data_inputs(b2s)) != 3:
    return None
  conv = _input_node(nodes, b2s, 0)
  if conv is None or conv.op not in _CONVS or len(
      graph_utils.data_inputs(conv)) != 2:
    return None
  s2b, weights = _input_node(nodes, conv, 0), _input_node(nodes, conv, 1)
  if s2b is None or s2b.op != "SpaceToBatchND" or len(
      graph_utils.data_inputs(s2b)) != 3:
    return None
  if weights is None or weights.op != "Const" or (
      attr(conv, "padding").s != b"VALID" or
      attr(conv, "data_format").s not in (b"", b"NHWC") or
      any(i != 1 for i in attr(conv, "strides").list.i) or
      any(i != 1 for i in attr(conv, "dilations").list.i)):
    return None
  s2b_consts, b2s_consts = _consts(nodes, s2b, tensors), _consts(
      nodes, b2s, tensors)
  if s2b_consts is None or b2s_consts is None:
    return None
  (block, paddings), (block_again, crops) = s2b_consts, b2s_consts
  filter_shape = tensors.value(weights).shape
  if (block.shape != (2,) or not np.array_equal(block, block_again) or
      (block < 1).any() or paddings.shape != (2, 2) or
      crops.shape != (2, 2) or len(filter_shape) != 4):
    return None
  padding = _padding(filter_shape, block, paddings, crops)
  # Rewritten or deleted, so nothing else may read them.
  if padding is None or {conv.name, s2b.name, weights.name} & protected or (
      not folding.only_read_by(readers, conv.name, b2s.name) or
      not folding.only_read_by(readers, s2b.name, conv.name) or
      not folding.only_read_by(readers, weights.name, conv.name)):
    return None
  return conv, s2b, weights, padding, block


def _upsample(tensors, weights, block):
  """Writes the filter with block - 1 zero taps between its taps."""
  value = tensors.value(weights)
  height, width = value.shape[:2]
  upsampled = np.zeros(((height - 1) * block[0] + 1,
                        (width - 1) * block[1] + 1) + value.shape[2:],
                       value.dtype)
  upsampled[::block[0], ::block[1]] = value
  # set_value keeps the stored shape, so the new one is set first.
  shape = weights.attr["value"].tensor.tensor_shape
  shape.Clear()
  for size in upsampled.shape:
    shape.dim.add(size=size)
  tensors.set_value(weights, upsampled)


def transform(graph_def, context):
  nodes = graph_utils.node_map(graph_def)
  readers = folding.readers(graph_def)
  protected = {graph_utils.node_name(n)
               for n in context.input_names + context.output_names}
  removed = set()
  # Block shapes, paddings and crops, deleted if nothing else reads them.
  spare = set()
  for b2s in graph_def.node:
    match = _match(b2s, nodes, readers, protected, context.tensors)
    if match is None:
      continue
    conv, s2b, weights, padding, block = match
    _upsample(context.tensors, weights, block)
    attrs = {key: conv.attr[key] for key in
             ("T", "strides", "data_format", "use_cudnn_on_gpu")
             if key in conv.attr}
    attrs["padding"] = attr_value_pb2.AttrValue(s=padding.encode())
    inputs = [graph_utils.data_inputs(s2b)[0], weights.name] + (
        control_inputs((b2s, conv, s2b)))
    spare.update(graph_utils.node_name(i) for n in (s2b, b2s)
                 for i in graph_utils.data_inputs(n)[1:])
    b2s.op = conv.op
    b2s.device = conv.device
    del b2s.input[:]
    b2s.input.extend(inputs)
    replace_attrs(b2s, attrs)
    removed.update((conv.name, s2b.name))
  if removed:
    keep = {n.name for n in graph_def.node} - removed
    still_read = {graph_utils.node_name(i) for n in graph_def.node
                  if n.name in keep for i in n.input}
    keep -= spare - still_read - protected
    graph_utils.keep_nodes(graph_def, keep)
  return graph_def
