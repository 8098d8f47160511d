"""fuse_resize_and_conv: merge ResizeBilinear + Conv2D into one fused op.

Options: none.

Finds Conv2D(ResizeBilinear(images, size), filter) and replaces the pair by
FusedResizeAndPadConv2D(images, size, CONV_dummy_paddings, filter) under the
convolution's name: the fused op with a new all-zero paddings Const (mode
REFLECT, so no padding), the resize's align_corners and the convolution's
strides and padding. The resized image is never built.

Use it on graphs that upsample before a convolution for a TensorFlow CPU
runtime (the fused op has only a float32 CPU kernel). A match is skipped
when the resize is read by another node or is a requested input or output,
when it uses half-pixel centres (TF 2.x `tf.image.resize`; the fused op
would compute other values), and for what fuse_pad_and_conv skips.
"""

from alexnet.graph_tools.transforms import fuse_pad_and_conv

# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def transform(graph_def, context):
  return fuse_pad_and_conv.fuse(graph_def, context, resize=True, pad=False)
