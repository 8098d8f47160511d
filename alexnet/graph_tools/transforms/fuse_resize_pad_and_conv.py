"""fuse_resize_pad_and_conv: merge ResizeBilinear + MirrorPad + Conv2D.

Options: none.

Finds Conv2D(MirrorPad(ResizeBilinear(images, size), paddings), filter) and
replaces the three by FusedResizeAndPadConv2D(images, size, paddings,
filter) under the convolution's name, with the resize's align_corners, the
MirrorPad's mode and the convolution's strides and padding. Neither the
resized nor the padded image is built.

Use it on upsampling decoders (style transfer, super resolution) for a
TensorFlow CPU runtime (the fused op has only a float32 CPU kernel). A
match is skipped when the resize or the MirrorPad is read by another node
or is a requested input or output, when the resize uses half-pixel centres
(TF 2.x `tf.image.resize`), and for what fuse_pad_and_conv skips.
"""

from alexnet.graph_tools.transforms import fuse_pad_and_conv

# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def transform(graph_def, context):
  return fuse_pad_and_conv.fuse(graph_def, context, resize=True, pad=True)
