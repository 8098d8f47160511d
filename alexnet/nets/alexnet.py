"""AlexNet, single tower, built from tf.nn ops and tf.compat.v1 variables.

Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS 2012. The paper splits the network over
two GPUs; this is the usual single-tower version of the same layers:

  conv1 96x11x11/4 VALID -> LRN -> max-pool 3/2      55x55x96  -> 27x27x96
  conv2 256x5x5          -> LRN -> max-pool 3/2      27x27x256 -> 13x13x256
  conv3 384x3x3, conv4 384x3x3, conv5 256x3x3        13x13x384, 13x13x256
  max-pool 3/2                                       6x6x256
  fc6 4096 -> dropout -> fc7 4096 -> dropout -> fc8 num_classes  (4096: fc_units)

(shapes for a 227x227 input). Any input of at least 67x67 works; the spatial
size must be static because fc6 is a matrix over the flattened pool5.

The network takes raw RGB in 0..255 and normalizes it itself, so a deployed
graph needs no preprocessing outside it:
  - "per_image" (default): tf.image.per_image_standardization, each image to
    zero mean and unit variance. It evens out GTSRB's many dark and
    low-contrast images.
  - "fixed": (x - 127.5) / 127.5, a fixed map to [-1, 1].
  - "equalize": histogram equalization of each channel, then as "per_image".
    Each channel's levels are spread evenly over its range, one of the
    GTSRB preprocessings of Ciresan et al. 2012 (multi-column DNN): it lifts
    the detail of dark and washed-out signs, which per_image's linear
    rescaling cannot.

With normalization="batch_norm" the two LRN layers are replaced by batch
normalization between the convolution (then without bias) and its ReLU,
whose moving mean and variance training updates through the UPDATE_OPS
collection; run them with the train op.

The layers (variables, weight decay, batch norm) are alexnet.nets.layers'.

Deployed graphs use the fixed node names below (see `inference_outputs`).
"""

import collections
import functools
import math

import tensorflow as tf

from alexnet.core import config
from alexnet.nets import layers
from alexnet.nets import spatial_transformer as transformer_lib

# Node names of a deployed graph; freeze_graph and the converters rely on them.
INPUT_NODE = "input"  # float32 placeholder [None, H, W, 3], raw RGB 0..255
LOGITS_NODE = "logits"  # float32 [None, num_classes]
PROBABILITIES_NODE = "probabilities"  # softmax of the logits
CLASSES_NODE = "classes"  # int64 [None], argmax of the logits
OUTPUT_NODES = (PROBABILITIES_NODE, CLASSES_NODE, LOGITS_NODE)
# A committee graph (alexnet.serving.committee) builds its i-th network under
# the scope COLUMN_SCOPE + i: "column0/alexnet/conv1/...".
COLUMN_SCOPE = "column"

# The choices and the smallest input (pool5 still 1x1) are the configs'.
NORMALIZATIONS = config.NORMALIZATIONS
INPUT_STANDARDIZATIONS = config.INPUT_STANDARDIZATIONS
MIN_IMAGE_SIZE = config.MIN_IMAGE_SIZE

# Krizhevsky et al. section 3.3: k=2, n=5, alpha=1e-4, beta=0.75.
_LRN = dict(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
# Name scope of the per-image standardization ops.
STANDARDIZE_SCOPE = "standardize"


def equalize_histograms(images):
  """Per-channel histogram equalization of raw RGB 0..255 images [B, H, W, 3].

  A pixel at level l = floor(x) becomes the fraction of its image channel's
  pixels at level l or below (in (0, 1]): the channel's normalized
  cumulative histogram is its level mapping. No scaling back to 0..255: the
  per-image standardization that follows undoes any scale.
  """
  batch, height, width, channels = images.shape
  levels = tf.cast(tf.clip_by_value(tf.floor(images), 0.0, 255.0), tf.int32)
  # One 256-bin histogram per (image, channel): segment (b * C + c) * 256 + l.
  # A static batch (a deployed graph's) keeps Shape ops out of the graph.
  histograms = (batch or tf.shape(images)[0]) * channels
  offsets = tf.reshape(tf.range(histograms) * 256, [-1, 1, 1, channels])
  bins = levels + offsets
  counts = tf.math.unsorted_segment_sum(tf.ones_like(images), bins,
                                        histograms * 256)
  cdf = tf.cumsum(tf.reshape(counts, [histograms, 256]), axis=1) / (
      height * width)
  return tf.gather(tf.reshape(cdf, [-1]), bins)


def standardize_images(images, method="per_image"):
  """Maps raw RGB 0..255 images [B, H, W, 3] to the network's input range.

  "per_image" equals tf.image.per_image_standardization but is written with
  a static pixel count, so the graph holds no Shape ops of the unknown batch
  dimension that would stop constant folding.
  """
  if method == "fixed":
    return (images - 127.5) / 127.5
  if method not in ("per_image", "equalize"):
    raise ValueError(f"input standardization {method!r} is not one of "
                     f"{INPUT_STANDARDIZATIONS}")
  num_pixels = images.shape[1:].num_elements()
  # One name scope, so the int8 TFLite conversion can find these ops and keep
  # them in float (alexnet/lite/convert.py says why).
  with tf.name_scope(STANDARDIZE_SCOPE):
    if method == "equalize":
      images = equalize_histograms(images)
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    centered = images - mean
    stddev = tf.sqrt(tf.reduce_mean(tf.square(centered), axis=[1, 2, 3],
                                    keepdims=True))
    # As in per_image_standardization: a uniform image is not divided by 0.
    return centered / tf.maximum(stddev, 1.0 / math.sqrt(num_pixels))


def _pool(x, name):
  return tf.nn.max_pool2d(x, ksize=3, strides=2, padding="VALID", name=name)


def alexnet(images, num_classes=43, is_training=False, dropout_rate=0.5,
            normalization="lrn", weight_decay=5e-4,
            input_standardization="per_image", fc_units=4096,
            spatial_transformer=False, scope="alexnet", reuse=None):
  """AlexNet (Krizhevsky et al. 2012) from raw RGB images to logits.

  Args:
    images: float32 [batch, height, width, 3], raw RGB 0..255, static height
      and width of at least 67.
    num_classes: size of the output layer.
    is_training: builds dropout and batch-norm statistics updates if True.
    dropout_rate: fraction of fc6/fc7 activations dropped when training.
    normalization: "lrn" (the paper's local response normalization) or
      "batch_norm".
    weight_decay: L2 weight on the weights, added to REGULARIZATION_LOSSES.
    input_standardization: "per_image" or "fixed" (see module docstring).
    fc_units: width of fc6 and fc7 (the paper's 4096 hold nearly all the
      weights; fewer give a smaller model).
    spatial_transformer: puts alexnet.nets.spatial_transformer in front of
      the input standardization (its variables under
      "<scope>/spatial_transformer/").
    scope: variable scope of all variables.
    reuse: passed to the variable scope, to share variables between graphs
      parts.

  Returns:
    (logits [batch, num_classes], end_points): end_points is an OrderedDict
    from "<scope>/<layer>" to each layer's output tensor.
  """
  if normalization not in NORMALIZATIONS:
    raise ValueError(f"normalization {normalization!r} is not one of "
                     f"{NORMALIZATIONS}")
  height, width = images.shape[1], images.shape[2]
  if height is None or width is None or min(height, width) < MIN_IMAGE_SIZE:
    raise ValueError(f"AlexNet needs a static input of at least "
                     f"{MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}, got {images.shape}")
  batch_norm = normalization == "batch_norm"
  end_points = collections.OrderedDict()
  with tf.compat.v1.variable_scope(scope, reuse=reuse) as sc:

    def add(name, tensor):
      end_points[f"{sc.name}/{name}"] = tensor
      return tensor

    def normalize(x, name):
      # With batch norm the normalization is inside the preceding conv.
      if batch_norm:
        return x
      return add(name, tf.nn.local_response_normalization(x, name=name, **_LRN))

    if spatial_transformer:
      images, transformer_points = transformer_lib.spatial_transformer(
          images, weight_decay)
      end_points.update(transformer_points)
    net = add("standardized", standardize_images(images, input_standardization))
    conv = functools.partial(layers.conv, weight_decay=weight_decay)
    net = add("conv1", conv(net, 96, 11, 4, "VALID", "conv1",
                            batch_norm=batch_norm, is_training=is_training))
    net = normalize(net, "lrn1")
    net = add("pool1", _pool(net, "pool1"))
    net = add("conv2", conv(net, 256, 5, 1, "SAME", "conv2",
                            batch_norm=batch_norm, is_training=is_training))
    net = normalize(net, "lrn2")
    net = add("pool2", _pool(net, "pool2"))
    net = add("conv3", conv(net, 384, 3, 1, "SAME", "conv3"))
    net = add("conv4", conv(net, 384, 3, 1, "SAME", "conv4"))
    net = add("conv5", conv(net, 256, 3, 1, "SAME", "conv5"))
    net = add("pool5", _pool(net, "pool5"))
    net = tf.reshape(net, [-1, net.shape[1:].num_elements()], name="flatten")
    for name in ("fc6", "fc7"):
      net = add(name, layers.fc(net, fc_units, name, weight_decay))
      if is_training and dropout_rate:
        net = tf.nn.dropout(net, rate=dropout_rate, name=f"{name}_dropout")
    logits = add("fc8", layers.fc(net, num_classes, "fc8", weight_decay,
                                  relu=False))
  return logits, end_points


alexnet.default_image_size = 227


def input_placeholder(image_size):
  """The deployed input: float32 [None, size, size, 3], raw RGB 0..255."""
  return tf.compat.v1.placeholder(tf.float32, [None, image_size, image_size, 3],
                                  name=INPUT_NODE)


def inference_outputs(logits):
  """Names the deployed outputs: {"logits", "probabilities", "classes"}.

  Call at the top level of a graph (outside any name scope) so the nodes get
  exactly these names.
  """
  return {
      LOGITS_NODE: tf.identity(logits, name=LOGITS_NODE),
      PROBABILITIES_NODE: tf.nn.softmax(logits, name=PROBABILITIES_NODE),
      CLASSES_NODE: tf.argmax(logits, axis=1, output_type=tf.int64,
                              name=CLASSES_NODE),
  }
