"""A spatial transformer front end, built from tf.nn ops and tf.compat.v1
variables.

Jaderberg, Simonyan, Zisserman and Kavukcuoglu, "Spatial Transformer
Networks", NIPS 2015: a small localization network looks at the image and
predicts an affine map theta, and a bilinear sampler resamples the image
through it, so the classifier that follows sees the sign shifted, scaled,
rotated and sheared towards the pose it learned. Arcos-García,
Álvarez-García and Soria-Morillo ("Deep neural network for traffic sign
recognition systems", Neural Networks 2018) put such modules in front of a
CNN for GTSRB.

  localization (on (x - 127.5) / 127.5, average-pooled to about 32x32):
    loc_conv1 32x5x5 SAME -> max-pool 2/2
    loc_conv2 64x5x5 SAME -> max-pool 2/2
    loc_fc1 128 -> loc_fc2 6 (theta, row-major 2x3)
  sampler: output pixel (x, y), both in -1..1 over the image, reads the
    input at theta @ (x, y, 1), bilinearly; points outside the image take
    the nearest edge pixel.

loc_fc2 starts with zero weights and the identity as its bias, so training
starts from the unchanged image. The output has the input's size and stays
raw RGB 0..255: the network's own input standardization (a histogram
equalization, say) then runs on the transformed sign. The layer names
differ from the network's ("loc_conv1", not "conv1"), so the int8
conversion's --float_layers=conv1 (matched by scope) keeps AlexNet's conv1
alone float; the whole transformer is the layer "spatial_transformer".

The sampler is built under the name scope SAMPLER_SCOPE. The int8 TFLite
conversion keeps it float: its pixel coordinates need more than 8 bits.
"""

import collections

import numpy as np
import tensorflow as tf

from alexnet.nets import layers

SAMPLER_SCOPE = "sampler"
# The localization network's input side, about (average pooling by an
# integer factor).
LOCALIZATION_SIZE = 32
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def affine_grid(theta, height, width):
  """Input coordinates in pixels of each output pixel: (x, y), each
  [batch, height * width], for theta [batch, 6] (a row-major 2x3 map of
  normalized coordinates, -1..1 from the first pixel's centre to the
  last's)."""
  # Separable: a row and a column of coordinates, not a [3, H*W] grid,
  # whose every value round_weights and quantize_weights would round.
  xs = np.linspace(-1.0, 1.0, width, dtype=np.float32).reshape(1, 1, width)
  ys = np.linspace(-1.0, 1.0, height, dtype=np.float32).reshape(1, height, 1)
  t = [tf.reshape(theta[:, i], [-1, 1, 1]) for i in range(6)]
  x = t[0] * xs + t[1] * ys + t[2]
  y = t[3] * xs + t[4] * ys + t[5]
  x = tf.reshape((x + 1.0) * ((width - 1) / 2.0), [-1, height * width])
  y = tf.reshape((y + 1.0) * ((height - 1) / 2.0), [-1, height * width])
  return x, y


def bilinear_sample(images, x, y):
  """`images` [B, H, W, C] read at pixel coordinates x, y [B, N]
  (clamped to the image) by bilinear interpolation: [B, N, C]."""
  batch, height, width, channels = images.shape
  x = tf.clip_by_value(x, 0.0, width - 1.0)
  y = tf.clip_by_value(y, 0.0, height - 1.0)
  x0, y0 = tf.floor(x), tf.floor(y)
  # The interpolation weights carry the gradient to the coordinates.
  wx, wy = (x - x0)[..., None], (y - y0)[..., None]
  x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
  x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
  # Rows of the flattened batch; a static batch (a deployed graph's) keeps
  # Shape ops out of the graph.
  rows = tf.reshape(images, [-1, channels])
  first = tf.reshape(
      tf.range(batch or tf.shape(images)[0]) * (height * width), [-1, 1])

  def read(yi, xi):
    return tf.gather(rows, first + yi * width + xi)

  top = read(y0, x0) * (1.0 - wx) + read(y0, x1) * wx
  bottom = read(y1, x0) * (1.0 - wx) + read(y1, x1) * wx
  return top * (1.0 - wy) + bottom * wy


def localization(images, weight_decay):
  """theta [batch, 6] for raw RGB 0..255 images; the identity at first."""
  net = (images - 127.5) / 127.5
  factor = max(1, images.shape[1] // LOCALIZATION_SIZE)
  net = tf.nn.avg_pool2d(net, factor, factor, "VALID")
  for name, depth in (("loc_conv1", 32), ("loc_conv2", 64)):
    net = layers.conv(net, depth, 5, 1, "SAME", name, weight_decay)
    net = tf.nn.max_pool2d(net, 2, 2, "VALID")
  net = tf.reshape(net, [-1, net.shape[1:].num_elements()])
  net = layers.fc(net, 128, "loc_fc1", weight_decay)
  return layers.fc(net, 6, "loc_fc2", weight_decay, relu=False,
                   weights_initializer=tf.compat.v1.zeros_initializer(),
                   biases_initializer=tf.compat.v1.constant_initializer(
                       IDENTITY))


def spatial_transformer(images, weight_decay=5e-4,
                        scope="spatial_transformer"):
  """Images [B, H, W, C] (raw RGB, static H, W, C) resampled through the
  affine map the localization network predicts (module docstring).

  Returns:
    (the transformed images, of the input's shape; end_points: an
    OrderedDict "<scope>/theta" and "<scope>/transformed").
  """
  _, height, width, channels = images.shape
  end_points = collections.OrderedDict()
  with tf.compat.v1.variable_scope(scope) as sc:
    theta = localization(images, weight_decay)
    end_points[f"{sc.name}/theta"] = theta
    with tf.name_scope(SAMPLER_SCOPE):
      x, y = affine_grid(theta, height, width)
      out = tf.reshape(bilinear_sample(images, x, y),
                       [-1, height, width, channels])
    end_points[f"{sc.name}/transformed"] = out
  return out, end_points
