"""Image preprocessing in TF ops: resize and training-time augmentation.

Images stay raw RGB in 0..255 (float32); the model normalizes. Augmentation
is geometric (small rotation, scale, translation) and photometric
(brightness, contrast; with `color`, also gamma and saturation). There are
no flips: a mirrored "keep left" is a "keep right", and mirrored digits or
arrows are not valid signs.

The geometric augmentation is one ImageProjectiveTransformV3 op sampling
the source image directly; it costs per output pixel, several times a
resize, so training warps to a square of twice the source's side (where
that is below the output's) and a bilinear resize takes it to output size:
two interpolations, the first at twice the source's resolution so that it
barely smooths. The photometric changes come before the warp, on the
source's pixels (a tenth as many as the output's for 32x32 sources at
99x99): brightness, contrast and saturation are affine maps of each pixel,
which commute with bilinear sampling but for clipping, and gamma is a
smooth monotone curve that nearly does.

EXTRA_AUGMENTATIONS cover the conditions of GTSRB's test images that the
above do not (each its own training flag, off by default; issue 28):
uneven illumination and colour casts, blur, the low resolution of distant
signs, oblique views and partial occlusion. Illumination and blur work on
the source's pixels too; the down-sampling of `resample` is followed by
the warp's sampling up to the output size; the perspective is part of
that pass's transform; the occluding rectangle goes on the output, so it
stays a rectangle. Global brightness and contrast are stronger in none of
them: the per-image standardization undoes those, and histogram
equalization also undoes gamma and each channel's gain; a gradient across
the sign neither undoes.
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
# The extra augmentations (preprocess's `extra`).
EXTRA_AUGMENTATIONS = ("illumination", "blur", "resample", "perspective",
                       "occlusion")
MAX_LOG2_GRADIENT = 1.0  # Up to 2x brighter at one edge than the opposite.
MAX_LOG2_CAST = 0.25  # Each channel's gain in 0.84..1.19.
MAX_BLUR_SIGMA = 0.04  # Of the side: 1.3 pixels of a 32x32 image.
RESAMPLE_RANGE = (0.4, 1.0)  # Of each side: 32 pixels down to 13.
MIN_RESAMPLE_SIDE = 4
MAX_CORNER_SHIFT = 0.1  # Of the side, in x and y, for each corner.
OCCLUSION_PROBABILITY = 0.5
OCCLUSION_AREA = (0.02, 0.2)  # Of the image.
MAX_OCCLUSION_ASPECT = 3.0
# Training warps at up to twice the source's side, then resizes
# (warp_resize's oversampling): how close that is to one pass, and what it
# saves, are in BENCHMARKS.md (the input pipeline at 99x99).
TRAINING_OVERSAMPLING = 2


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


# The output square's corners (x, y) about its centre, as fractions of the
# side: top-left, top-right, bottom-right, bottom-left.
_CORNERS = ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5))


def corner_homography(corners):
  """The 3x3 homography taking the centred unit square's _CORNERS to
  _CORNERS + `corners` ([4, 2], fractions of the side)."""
  square = tf.constant(_CORNERS, tf.float32)
  moved = square + corners
  x, y, u, v = square[:, 0], square[:, 1], moved[:, 0], moved[:, 1]
  zero, one = tf.zeros(4), tf.ones(4)
  # The 8 unknowns h of u = (h0 x + h1 y + h2) / (h6 x + h7 y + 1), v alike.
  system = tf.concat([
      tf.stack([x, y, one, zero, zero, zero, -x * u, -y * u], 1),
      tf.stack([zero, zero, zero, x, y, one, -x * v, -y * v], 1)], 0)
  h = tf.linalg.solve(system, tf.concat([u, v], 0)[:, tf.newaxis])[:, 0]
  return tf.reshape(tf.concat([h, [1.0]], 0), [3, 3])


def _with_perspective(transform, image_size, corners):
  """`transform`'s 8 coefficients after the corner homography: an output
  pixel index goes to centred fractions of the side, through the homography,
  back to pixel indices, then through `transform`."""
  size = tf.cast(image_size, tf.float32)
  centre = size / 2 - 0.5
  to_unit = tf.stack([[1 / size, 0.0, -centre / size],
                      [0.0, 1 / size, -centre / size], [0.0, 0.0, 1.0]])
  from_unit = tf.stack([[size, 0.0, centre], [0.0, size, centre],
                        [0.0, 0.0, 1.0]])
  affine = tf.reshape(tf.concat([transform[:6], [0.0, 0.0, 1.0]], 0), [3, 3])
  matrix = affine @ from_unit @ corner_homography(corners) @ to_unit
  return tf.reshape(matrix / matrix[2, 2], [9])[:8]


def warp_resize(image, image_size, angle, scale, shift, corners=None,
                oversampling=None):
  """`image` rotated by `angle` (radians; positive turns clockwise on screen),
  scaled by `scale` and shifted by `shift` (x, y fractions of the size), and
  with `corners` ([4, 2] or None) also warped projectively so that the
  source's corners moved by them (fractions of the side; corner_homography)
  fill the output; resized to float32 [S, S, 3].

  oversampling None: in the same sampling pass. k: warped to a square of k
  times the source's longer side (if that is below S), then resized to S:
  ImageProjectiveTransformV3 costs per output pixel, several times a
  resize's, so the second interpolation buys most of its cost back.
  """
  shape = tf.shape(image)
  side = tf.constant(image_size)
  if oversampling is not None:
    side = tf.minimum(side, oversampling * tf.reduce_max(shape[:2]))
  transform = _affine_resize_transform(shape[0], shape[1], side, angle,
                                       scale, shift)
  if corners is not None:
    transform = _with_perspective(transform, side, corners)
  out = tf.raw_ops.ImageProjectiveTransformV3(
      images=tf.cast(image, tf.float32)[tf.newaxis],
      transforms=transform[tf.newaxis],
      output_shape=tf.stack([side, side]),
      fill_value=tf.constant(0.0),
      interpolation="BILINEAR",
      fill_mode="NEAREST")[0]  # Edge pixels, not black corners.
  if oversampling is not None:
    out = tf.image.resize(out, [image_size, image_size],
                          method=tf.image.ResizeMethod.BILINEAR)
  # Bilinear weights can sum to a hair over 1 (255.00002 on AVX2 CI).
  out = tf.clip_by_value(out, 0.0, 255.0)
  return tf.ensure_shape(out, [image_size, image_size, 3])


def random_warp_resize(image, image_size, geometry=True, perspective=False,
                       seed=None):
  """`image` resized to [S, S, 3] through random geometry (rotation, scale,
  shift) and/or a random perspective (each corner moved up to
  MAX_CORNER_SHIFT of the side in x and y), warped at up to
  TRAINING_OVERSAMPLING times the source's side."""
  if geometry:
    angle = tf.random.uniform([], -1.0, 1.0, seed=_op_seed(seed, 0)) * (
        MAX_ROTATION_DEGREES * math.pi / 180)
    scale = tf.random.uniform([], *SCALE_RANGE, seed=_op_seed(seed, 1))
    shift = tf.random.uniform([2], -MAX_TRANSLATION, MAX_TRANSLATION,
                              seed=_op_seed(seed, 2))
  else:
    angle, scale, shift = tf.constant(0.0), tf.constant(1.0), tf.zeros([2])
  corners = (tf.random.uniform([4, 2], -MAX_CORNER_SHIFT, MAX_CORNER_SHIFT,
                               seed=_op_seed(seed, 7))
             if perspective else None)
  return warp_resize(image, image_size, angle, scale, shift, corners,
                     oversampling=TRAINING_OVERSAMPLING)


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


def random_illumination(image, seed=None):
  """Uneven light: a brightness gradient across the image in a random
  direction (log-linear, up to 2**MAX_LOG2_GRADIENT between opposite edges)
  and a colour cast (each channel's gain up to 2**±MAX_LOG2_CAST), kept
  within 0..255."""
  shape = tf.shape(image)
  direction = tf.random.uniform([], 0.0, 2 * math.pi, seed=_op_seed(seed, 8))
  strength = tf.random.uniform([], -MAX_LOG2_GRADIENT, MAX_LOG2_GRADIENT,
                               seed=_op_seed(seed, 9))
  cast = tf.random.uniform([3], -MAX_LOG2_CAST, MAX_LOG2_CAST,
                           seed=_op_seed(seed, 10))
  rows = _centred_positions(shape[0])[:, tf.newaxis]
  cols = _centred_positions(shape[1])[tf.newaxis, :]
  along = cols * tf.cos(direction) + rows * tf.sin(direction)
  gain = tf.pow(2.0, strength * along[..., tf.newaxis] + cast)
  return tf.clip_by_value(image * gain, 0.0, 255.0)


def _centred_positions(n):
  """Pixel centres of a side of n pixels as fractions of it, in (-0.5, 0.5)."""
  n = tf.cast(n, tf.float32)
  return (tf.range(n) + 0.5) / n - 0.5


def _gaussian_rows(n, sigma):
  """[n, n]: each row the Gaussian weights (sigma pixels) of a pixel's
  neighbours, normalized to 1 within the image (so the edges keep their
  brightness without padding)."""
  positions = tf.range(tf.cast(n, tf.float32))
  distance = positions[:, tf.newaxis] - positions[tf.newaxis, :]
  weights = tf.exp(-0.5 * tf.square(distance / tf.maximum(sigma, 1e-3)))
  return weights / tf.reduce_sum(weights, axis=1, keepdims=True)


def random_blur(image, seed=None):
  """Gaussian blur of random sigma, up to MAX_BLUR_SIGMA of the image's
  height (vertically) and width (horizontally): the same blur on the sign
  whatever the source's size. As two matrix products, which take any size
  and sigma without padding; kept within 0..255."""
  shape = tf.shape(image)
  sigma = tf.random.uniform([], 0.0, MAX_BLUR_SIGMA, seed=_op_seed(seed, 11))
  height, width = (tf.cast(shape[i], tf.float32) for i in (0, 1))
  image = tf.einsum("ij,jwc->iwc", _gaussian_rows(shape[0], sigma * height),
                    image)
  image = tf.einsum("kw,iwc->ikc", _gaussian_rows(shape[1], sigma * width),
                    image)
  return tf.clip_by_value(image, 0.0, 255.0)  # Rounding's last bits.


def random_resample(image, seed=None):
  """`image` down-sampled (antialiased) by a random factor of each side in
  RESAMPLE_RANGE, at least MIN_RESAMPLE_SIDE pixels: a small, distant sign's
  few pixels. The resize to the output size brings it back up."""
  factor = tf.random.uniform([], *RESAMPLE_RANGE, seed=_op_seed(seed, 12))
  side = tf.cast(tf.shape(image)[:2], tf.float32)
  size = tf.maximum(tf.cast(tf.round(side * factor), tf.int32),
                    MIN_RESAMPLE_SIDE)
  image = tf.image.resize(image, size, method=tf.image.ResizeMethod.BILINEAR,
                          antialias=True)
  return tf.clip_by_value(image, 0.0, 255.0)  # Rounding's last bits.


def random_occlusion(image, seed=None):
  """With probability OCCLUSION_PROBABILITY, a rectangle of one random colour
  (area a fraction OCCLUSION_AREA of the image, aspect ratio within
  1/MAX_OCCLUSION_ASPECT..MAX_OCCLUSION_ASPECT) over the image at a random
  place: random erasing (Zhong et al. 2017)."""
  shape = tf.shape(image)
  occluded = tf.random.uniform([], seed=_op_seed(seed, 13)) < (
      OCCLUSION_PROBABILITY)
  area = tf.random.uniform([], *OCCLUSION_AREA, seed=_op_seed(seed, 14))
  log_aspect = math.log(MAX_OCCLUSION_ASPECT)
  aspect = tf.exp(tf.random.uniform([], -log_aspect, log_aspect,
                                    seed=_op_seed(seed, 15)))
  extent = tf.minimum(tf.stack([tf.sqrt(area * aspect),
                                tf.sqrt(area / aspect)]), 1.0)
  start = tf.random.uniform([2], seed=_op_seed(seed, 16)) * (1.0 - extent)
  colour = tf.random.uniform([3], 0.0, 255.0, seed=_op_seed(seed, 17))

  def inside(axis):
    position = _centred_positions(shape[axis]) + 0.5
    return (position >= start[axis]) & (position < start[axis] + extent[axis])

  mask = inside(0)[:, tf.newaxis] & inside(1)[tf.newaxis, :] & occluded
  return tf.where(mask[..., tf.newaxis], colour, image)


# Test-time augmentation's fixed views, (rotation in degrees, scale): the
# image itself first, then small changes well inside the training
# augmentation's range, so each view looks like a training image.
TTA_VIEWS = ((0.0, 1.0), (0.0, 0.92), (0.0, 1.08), (5.0, 1.0), (-5.0, 1.0))


def views(image, image_size, count):
  """The first `count` TTA_VIEWS of one [H, W, 3] image: float32
  [count, S, S, 3]; view 0 is `resize`'s output, exactly."""
  if not 1 <= count <= len(TTA_VIEWS):
    raise ValueError(f"{count} test-time views: choose 1 to "
                     f"{len(TTA_VIEWS)}")
  out = [resize(image, image_size)]
  for degrees, scale in TTA_VIEWS[1:count]:
    out.append(warp_resize(image, image_size,
                           tf.constant(degrees * math.pi / 180),
                           tf.constant(scale), tf.zeros([2])))
  return tf.stack(out)


def check_extra(extra):
  """ValueError naming any of `extra` not in EXTRA_AUGMENTATIONS."""
  unknown = sorted(set(extra) - set(EXTRA_AUGMENTATIONS))
  if unknown:
    raise ValueError(f"unknown augmentations {', '.join(unknown)}: choose "
                     f"from {', '.join(EXTRA_AUGMENTATIONS)}")


def preprocess(image, image_size, augment=False, color=False, seed=None,
               extra=(), tta_views=0):
  """A decoded uint8 [H, W, 3] image -> float32 [S, S, 3] in 0..255.

  augment: random geometry, brightness and contrast; with color, also random
  gamma and saturation. extra: any of EXTRA_AUGMENTATIONS, each on its own
  or with augment, in this order: illumination (before brightness and
  contrast), blur, resample, perspective (in the resize's sampling pass),
  occlusion (on the output). Without any, the plain resize. tta_views V > 0
  (evaluation, no augmentation): `views`' [V, S, S, 3] instead.
  """
  if tta_views:
    if augment or extra:
      raise ValueError("test-time views are not augmented")
    return views(image, image_size, tta_views)
  check_extra(extra)
  if not augment and not extra:
    return resize(image, image_size)
  image = tf.cast(image, tf.float32)
  if augment and color:
    image = random_gamma_saturation(image, seed=seed)
  if "illumination" in extra:
    image = random_illumination(image, seed=seed)
  if augment:
    image = random_brightness_contrast(image, seed=seed)
  if "blur" in extra:
    image = random_blur(image, seed=seed)
  if "resample" in extra:
    image = random_resample(image, seed=seed)
  if augment or "perspective" in extra:
    image = random_warp_resize(image, image_size, geometry=augment,
                               perspective="perspective" in extra, seed=seed)
  else:
    image = resize(image, image_size)
  if "occlusion" in extra:
    image = random_occlusion(image, seed=seed)
  return image
