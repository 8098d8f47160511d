"""fuse_pad_and_conv: merge MirrorPad + Conv2D into one FusedPadConv2D.

Options: none.

Finds Conv2D(MirrorPad(x, paddings), filter) and replaces the pair by
FusedPadConv2D(x, paddings, filter) under the convolution's name, with the
MirrorPad's mode and the convolution's strides and padding. The fused op
pads while it gathers the patches, so the padded tensor is never built.

Use it on graphs that reflect-pad before their convolutions (style
transfer, super resolution) for a TensorFlow CPU runtime: the fused op has
only a float32 CPU kernel. A match is skipped when the MirrorPad is read by
another node or is a requested input or output, and when the fused op
could not compute the same thing: a type other than float32, NCHW,
dilations, EXPLICIT padding, int64 paddings, or Const paddings that pad the
batch or channel dimension (the kernel rejects those).

This module also holds what fuse_resize_and_conv and
fuse_resize_pad_and_conv share with it (`fuse`), and the attribute helpers
flatten_atrous_conv uses too.
"""

import numpy as np
from tensorflow.core.framework import attr_value_pb2
from tensorflow.core.framework import types_pb2

from alexnet.graph_tools import folding
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError

# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()

_UNSET = attr_value_pb2.AttrValue()


def attr(node, key):
  """node.attr[key] without adding it (indexing a proto map adds the key)."""
  return node.attr.get(key, _UNSET)


def _conv_fusable(conv):
  return (len(graph_utils.data_inputs(conv)) == 2 and
          attr(conv, "T").type == types_pb2.DT_FLOAT and
          attr(conv, "padding").s in (b"SAME", b"VALID") and
          attr(conv, "data_format").s in (b"", b"NHWC") and
          all(d == 1 for d in attr(conv, "dilations").list.i))


def _pad_fusable(pad, nodes, tensors):
  inputs = graph_utils.data_inputs(pad)
  if len(inputs) != 2 or (
      attr(pad, "Tpaddings").type not in (0, types_pb2.DT_INT32)):
    return False
  paddings = nodes.get(graph_utils.node_name(inputs[1]))
  if paddings is None or paddings.op != "Const":
    return True  # Only known when it runs; the kernel checks it then.
  value = tensors.value(paddings)
  return value.shape == (4, 2) and not np.any(value[[0, 3]])


def _resize_fusable(resize):
  # The fused kernel knows align_corners but not half-pixel centres.
  return (len(graph_utils.data_inputs(resize)) == 2 and
          attr(resize, "T").type == types_pb2.DT_FLOAT and
          not attr(resize, "half_pixel_centers").b)


def _match(conv, nodes, readers, protected, tensors, resize, pad):
  """(pad node or None, resize node or None) when `conv` can be fused."""
  if conv.op != "Conv2D" or not _conv_fusable(conv):
    return None
  found = {}
  reader = conv
  for op, wanted, fusable in (
      ("MirrorPad", pad, lambda n: _pad_fusable(n, nodes, tensors)),
      ("ResizeBilinear", resize, _resize_fusable)):
    if not wanted:
      continue
    node = nodes.get(graph_utils.node_name(graph_utils.data_inputs(reader)[0]))
    if node is None or node.op != op or not fusable(node):
      return None
    # The node disappears, so nothing else may need it.
    if node.name in protected or not folding.only_read_by(
        readers, node.name, reader.name):
      return None
    found[op] = reader = node
  return found.get("MirrorPad"), found.get("ResizeBilinear")


def control_inputs(nodes):
  """The control inputs of `nodes` (None skipped), each once, in order."""
  result = []
  for node in nodes:
    if node is not None:
      result.extend(i for i in node.input
                    if graph_utils.is_control(i) and i not in result)
  return result


def replace_attrs(node, attrs):
  """Sets node.attr to exactly `attrs` (name -> AttrValue, copied first)."""
  kept = {}
  for key, value in attrs.items():
    kept[key] = attr_value_pb2.AttrValue()
    kept[key].CopyFrom(value)
  node.ClearField("attr")
  for key, value in kept.items():
    node.attr[key].CopyFrom(value)


def fuse(graph_def, context, resize, pad):
  """Rewrites Conv2D(MirrorPad?(ResizeBilinear?(x)), w) into one fused op.

  With `resize` the result is FusedResizeAndPadConv2D (when not `pad`, with
  all-zero REFLECT paddings: a new Const CONV_dummy_paddings), else
  FusedPadConv2D. Raises TransformError, before changing anything, when
  that Const's name is taken.
  """
  nodes = graph_utils.node_map(graph_def)
  readers = folding.readers(graph_def)
  protected = {graph_utils.node_name(n)
               for n in context.input_names + context.output_names}
  matches = []
  for conv in graph_def.node:
    match = _match(conv, nodes, readers, protected, context.tensors, resize,
                   pad)
    if match is None:
      continue
    if not pad and conv.name + "_dummy_paddings" in nodes:
      raise TransformError(f"{context.name}: cannot add "
                           f"'{conv.name}_dummy_paddings' for '{conv.name}': "
                           "a node of that name exists")
    matches.append((conv, match))
  removed = set()
  for conv, (pad_node, resize_node) in matches:
    source = resize_node or pad_node
    # Resize reads (images, size); MirrorPad reads (input, paddings).
    inputs = graph_utils.data_inputs(source)[:2 if resize_node else 1]
    attrs = {key: attr(conv, key) for key in ("T", "strides", "padding")}
    if pad_node is not None:
      inputs.append(graph_utils.data_inputs(pad_node)[1])
      attrs["mode"] = attr(pad_node, "mode")
    else:
      inputs.append(conv.name + "_dummy_paddings")
      graph_utils.set_const(graph_def.node.add(), inputs[-1],
                            np.zeros((4, 2), np.int32))
      attrs["mode"] = attr_value_pb2.AttrValue(s=b"REFLECT")
    if resize_node is not None:
      attrs["resize_align_corners"] = attr_value_pb2.AttrValue(
          b=attr(resize_node, "align_corners").b)
    inputs.append(graph_utils.data_inputs(conv)[1])
    # The C++ tool drops control inputs; they still order the fused op.
    inputs += control_inputs((conv, pad_node, resize_node))
    conv.op = ("FusedResizeAndPadConv2D" if resize_node is not None
               else "FusedPadConv2D")
    del conv.input[:]
    conv.input.extend(inputs)
    replace_attrs(conv, attrs)
    removed.update(n.name for n in (pad_node, resize_node) if n is not None)
  if removed:
    graph_utils.keep_nodes(graph_def,
                           {n.name for n in graph_def.node} - removed)
  return graph_def


def transform(graph_def, context):
  return fuse(graph_def, context, resize=False, pad=True)
