"""Image preprocessing in TF ops: resize and training-time augmentation.

Images stay raw RGB in 0..255 (float32); the model normalizes. Augmentation
is geometric (small rotation, scale, translation) and photometric
(brightness, contrast; with `color`, also gamma and saturation). There are
no flips: a mirrored "keep left" is a "keep right", and mirrored digits or
arrows are not valid signs.

The geometric augmentation and the resize are one ImageProjectiveTransformV3
op sampling the source image directly, so a training image is interpolated
once, at output size, whatever size the source is. The photometric changes
come before it, on the source's pixels (a tenth as many as the output's for
32x32 sources at 99x99; BENCHMARKS.md, input pipeline): brightness,
contrast and saturation are affine maps of each pixel, which commute with
bilinear sampling but for clipping, and gamma is a smooth monotone curve
that nearly does.
"""

import math

import tensorflow as tf

MAX_ROTATION_DEGREES = 10.0
SCALE_RANGE = (0.9, 1.1)
MAX_TRANSLATION = 0.1  # Of the image size.
MAX_BRIGHTNESS_DELTA = 32.0  # Of 255.
CONTRAST_RANGE = (0.8, 1.2)
# Color augmentation. Per-image standardization undoes brightness and
# contrast but not these: washed-out (gamma < 1, pale) and dark, saturated
# real signs are what the brightness/contrast-only model still misread.
MAX_LOG2_GAMMA = 1.0  # Gamma in 0.5..2.
SATURATION_RANGE = (0.4, 1.6)


def _op_seed(seed, index):
  # Ops sharing one seed draw the same numbers: give each its own.
  return None if seed is None else seed + index


def resize(image, image_size):
  """Bilinear resize of one [H, W, 3] image to float32 [S, S, 3]."""
  image = tf.image.resize(tf.cast(image, tf.float32), [image_size, image_size],
                          method=tf.image.ResizeMethod.BILINEAR)
  return tf.ensure_shape(image, [image_size, image_size, 3])


def _affine_resize_transform(height, width, image_size, angle, scale, shift):
  """The 8 ImageProjectiveTransform coefficients (output -> source pixels).

  An output pixel centre q = p + 0.5 (square of side S) is rotated by -angle,
  scaled by 1/scale and shifted by -shift*S about the centre S/2, then
  stretched to the source's (W, H) and moved back to pixel-index coordinates,
  matching tf.image.resize's half-pixel convention when there is no
  augmentation.
  """
  size = tf.cast(image_size, tf.float32)
  sx = tf.cast(width, tf.float32) / size
  sy = tf.cast(height, tf.float32) / size
  a = tf.cos(angle) / scale
  b = tf.sin(angle) / scale
  ox = 0.5 - size / 2 - shift[0] * size
  oy = 0.5 - size / 2 - shift[1] * size
  zero = tf.zeros_like(a)
  return tf.stack([
      sx * a, sx * b, sx * (a * ox + b * oy + size / 2) - 0.5,
      -sy * b, sy * a, sy * (-b * ox + a * oy + size / 2) - 0.5,
      zero, zero])


def affine_resize(image, image_size, angle, scale, shift):
  """`image` rotated by `angle` (radians; positive turns clockwise on screen),
  scaled by `scale` and shifted by `shift` (x, y fractions of the size),
  resized to float32 [S, S, 3] in the same sampling pass."""
  shape = tf.shape(image)
  transform = _affine_resize_transform(shape[0], shape[1], image_size, angle,
                                       scale, shift)
  out = tf.raw_ops.ImageProjectiveTransformV3(
      images=tf.cast(image, tf.float32)[tf.newaxis],
      transforms=transform[tf.newaxis],
      output_shape=tf.constant([image_size, image_size], tf.int32),
      fill_value=tf.constant(0.0),
      interpolation="BILINEAR",
      fill_mode="NEAREST")  # Edge pixels, not black corners.
  return tf.ensure_shape(out[0], [image_size, image_size, 3])


def random_affine_resize(image, image_size, seed=None):
  """Randomly rotated, scaled and shifted `image`, resized to [S, S, 3]."""
  angle = tf.random.uniform([], -1.0, 1.0, seed=_op_seed(seed, 0)) * (
      MAX_ROTATION_DEGREES * math.pi / 180)
  scale = tf.random.uniform([], *SCALE_RANGE, seed=_op_seed(seed, 1))
  shift = tf.random.uniform([2], -MAX_TRANSLATION, MAX_TRANSLATION,
                            seed=_op_seed(seed, 2))
  return affine_resize(image, image_size, angle, scale, shift)


def random_brightness_contrast(image, seed=None):
  """Random brightness shift and contrast scaling, kept within 0..255."""
  delta = tf.random.uniform([], -MAX_BRIGHTNESS_DELTA, MAX_BRIGHTNESS_DELTA,
                            seed=_op_seed(seed, 3))
  factor = tf.random.uniform([], *CONTRAST_RANGE, seed=_op_seed(seed, 4))
  mean = tf.reduce_mean(image)
  return tf.clip_by_value((image - mean) * factor + mean + delta, 0.0, 255.0)


def random_gamma_saturation(image, seed=None):
  """Random gamma curve and saturation scaling, kept within 0..255."""
  gamma = tf.pow(2.0, tf.random.uniform([], -MAX_LOG2_GAMMA, MAX_LOG2_GAMMA,
                                        seed=_op_seed(seed, 5)))
  # Clipped first: a negative base would give NaN.
  image = 255.0 * tf.pow(tf.clip_by_value(image / 255.0, 0.0, 1.0), gamma)
  factor = tf.random.uniform([], *SATURATION_RANGE, seed=_op_seed(seed, 6))
  gray = tf.reduce_mean(image, axis=-1, keepdims=True)
  return tf.clip_by_value(gray + (image - gray) * factor, 0.0, 255.0)


def preprocess(image, image_size, augment=False, color=False, seed=None):
  """A decoded uint8 [H, W, 3] image -> float32 [S, S, 3] in 0..255.

  augment: random geometry, brightness and contrast; with color, also random
  gamma and saturation.
  """
  if not augment:
    return resize(image, image_size)
  image = tf.cast(image, tf.float32)
  if color:
    image = random_gamma_saturation(image, seed=seed)
  image = random_brightness_contrast(image, seed=seed)
  return random_affine_resize(image, image_size, seed=seed)
