"""Resize and augmentation ops: geometry checked against numpy and tf.image."""

import math
import os

import numpy as np
import pytest
import tensorflow as tf

from alexnet.datasets import preprocessing


def _image(height, width, seed=0):
  return tf.constant(np.random.RandomState(seed).randint(
      0, 256, (height, width, 3)), tf.uint8)


def _transform(image, size, angle=0.0, scale=1.0, shift=(0.0, 0.0),
               corners=None):
  return preprocessing.warp_resize(
      image, size, tf.constant(angle), tf.constant(scale), tf.constant(shift),
      None if corners is None else tf.constant(corners, tf.float32)).numpy()


@pytest.mark.parametrize("height,width,size", [(16, 16, 40), (40, 30, 24)])
def test_identity_transform_is_the_plain_resize(height, width, size):
  image = _image(height, width)
  expected = preprocessing.resize(image, size).numpy()
  np.testing.assert_allclose(_transform(image, size), expected, atol=1e-3)


def test_quarter_turn_matches_numpy_rotation():
  image = _image(12, 12)
  rotated = _transform(image, 12, angle=math.pi / 2)
  # Positive angles turn clockwise on screen (rows grow downwards).
  np.testing.assert_allclose(rotated, np.rot90(image.numpy(), k=-1),
                             atol=1e-3)


def test_shift_moves_content_by_a_fraction_of_the_size():
  image = _image(20, 20)
  shifted = _transform(image, 20, shift=(0.25, 0.0))
  np.testing.assert_allclose(shifted[:, 5:], image.numpy()[:, :15], atol=1e-3)


def _sign_like(size=25):
  """A disc with a rim on a gradient: the edges and flats of a sign crop."""
  rows, cols = np.mgrid[0:size, 0:size]
  radius = np.hypot(rows - size / 2, cols - size / 2)
  grey = np.where(radius < size * 0.3, 230, np.where(radius < size * 0.4,
                                                    40, 120 + 3 * cols))
  return tf.constant(np.stack([grey, grey * 0.8, 255 - grey], -1).astype(
      np.uint8))


def test_oversampled_warp_is_close_to_one_pass_and_closer_the_more():
  image = _sign_like()
  draws = (tf.constant(0.12), tf.constant(1.06), tf.constant((0.04, -0.03)))
  one_pass = preprocessing.warp_resize(image, 99, *draws).numpy()
  differences = {k: np.abs(preprocessing.warp_resize(
      image, 99, *draws, oversampling=k).numpy() - one_pass).mean()
                 for k in (1, 2, 3, preprocessing.TRAINING_OVERSAMPLING)}
  assert 0 < differences[3] < differences[2] < differences[1]
  # The training default: within a grey level or two of one pass.
  assert differences[preprocessing.TRAINING_OVERSAMPLING] < 2.0


def test_the_training_warp_is_oversampled():
  # The same draws as random_warp_resize's (the same global and op seeds).
  image, seed = _sign_like(), 3
  tf.random.set_seed(4)
  trained = preprocessing.random_warp_resize(image, 99, seed=seed).numpy()
  tf.random.set_seed(4)
  angle = tf.random.uniform([], -1.0, 1.0, seed=seed) * (
      preprocessing.MAX_ROTATION_DEGREES * math.pi / 180)
  scale = tf.random.uniform([], *preprocessing.SCALE_RANGE, seed=seed + 1)
  shift = tf.random.uniform([2], -preprocessing.MAX_TRANSLATION,
                            preprocessing.MAX_TRANSLATION, seed=seed + 2)
  oversampled = preprocessing.warp_resize(
      image, 99, angle, scale, shift,
      oversampling=preprocessing.TRAINING_OVERSAMPLING).numpy()
  np.testing.assert_array_equal(trained, oversampled)
  one_pass = preprocessing.warp_resize(image, 99, angle, scale, shift).numpy()
  assert not np.array_equal(trained, one_pass)


def test_oversampling_a_large_enough_source_is_one_pass():
  image = _image(30, 24)
  args = (tf.constant(0.2), tf.constant(0.95), tf.constant((0.05, 0.0)))
  np.testing.assert_array_equal(
      preprocessing.warp_resize(image, 40, *args, oversampling=2).numpy(),
      preprocessing.warp_resize(image, 40, *args).numpy())


def test_augmentation_varies_stays_in_range_and_never_mirrors():
  # Bright left half, dark right half: a mirror would swap them.
  pixels = np.zeros((32, 32, 3), np.uint8)
  pixels[:, :16] = 200
  pixels[:, 16:] = 40
  image = tf.constant(pixels)
  outputs = np.stack([
      preprocessing.preprocess(image, 48, augment=True).numpy()
      for _ in range(20)])
  assert outputs.shape == (20, 48, 48, 3)
  assert outputs.min() >= 0 and outputs.max() <= 255
  assert len({o.tobytes() for o in outputs}) == 20
  left = outputs[:, :, :20].mean(axis=(1, 2, 3))
  right = outputs[:, :, 28:].mean(axis=(1, 2, 3))
  assert (left > right + 60).all()


def test_gamma_darkens_and_brightens_within_its_bounds():
  # Mid-gray has no saturation to change: only gamma moves it, to
  # 255 * 0.5 ** gamma with gamma in 0.5..2.
  image = tf.fill([8, 8, 3], 127.5)
  values = np.array([
      preprocessing.random_gamma_saturation(image).numpy().mean()
      for _ in range(40)])
  low, high = 255 * 0.5 ** 2, 255 * 0.5 ** 0.5
  assert values.min() >= low - 1e-3 and values.max() <= high + 1e-3
  assert values.min() < 110 and values.max() > 145  # Both directions.


def test_saturation_scales_color_and_keeps_gray_gray():
  gray = tf.fill([4, 4, 3], 90.0)
  out = preprocessing.random_gamma_saturation(gray).numpy()
  np.testing.assert_allclose(out, out[..., :1].repeat(3, axis=-1), atol=1e-4)
  color = tf.constant([[[200.0, 100.0, 50.0]]])
  spreads = []
  for _ in range(40):
    pixel = preprocessing.random_gamma_saturation(color).numpy()[0, 0]
    assert 0 <= pixel.min() and pixel.max() <= 255
    assert pixel[0] >= pixel[1] >= pixel[2]  # Hue order kept.
    spreads.append(pixel[0] - pixel[2])
  assert len(set(spreads)) == 40


def test_color_augmentation_only_with_augment():
  image = _image(30, 20)
  np.testing.assert_array_equal(
      preprocessing.preprocess(image, 40, color=True).numpy(),
      preprocessing.resize(image, 40).numpy())
  outputs = [preprocessing.preprocess(image, 40, augment=True,
                                      color=True).numpy() for _ in range(5)]
  assert all(0 <= o.min() and o.max() <= 255 for o in outputs)
  assert len({o.tobytes() for o in outputs}) == 5


def test_plain_preprocess_is_deterministic_and_raw_range():
  image = _image(30, 20)
  first = preprocessing.preprocess(image, 227).numpy()
  second = preprocessing.preprocess(image, 227).numpy()
  assert first.dtype == np.float32 and first.shape == (227, 227, 3)
  np.testing.assert_array_equal(first, second)
  assert 100 < first.max() <= 255  # Raw 0..255, not rescaled to 0..1.


def test_colour_on_the_source_is_colour_after_the_resize():
  # The photometric changes come before the one interpolation, on the
  # source's fewer pixels: with the same draws, nearly the same image as
  # changing the resized one (clipping and the contrast's mean differ).
  rows, cols = np.mgrid[0:30, 0:26]
  image = tf.constant(np.stack([60 + 4 * cols, 40 + 5 * rows,
                                200 - 3 * cols], -1).astype(np.uint8))
  tf.random.set_seed(4)
  source_first = preprocessing.preprocess(image, 99, augment=True,
                                          color=True, seed=3).numpy()
  tf.random.set_seed(4)
  resized_first = preprocessing.random_brightness_contrast(
      preprocessing.random_gamma_saturation(
          preprocessing.random_warp_resize(image, 99, seed=3), seed=3),
      seed=3).numpy()
  assert np.abs(source_first - resized_first).mean() < 2.0
  assert not np.array_equal(source_first, resized_first)


# preprocess's output on main before issue 28's options (commit e56b86b):
# image = the stored 12x10 uint8 noise; for color in (False, True):
# tf.random.set_seed(4); preprocess(image, 16, augment=True, color=color,
# seed=3).
_GOLDEN = os.path.join(os.path.dirname(__file__), "golden",
                       "preprocess_before_issue28.npz")


def _noise(size=24, seed=0):
  return tf.constant(np.random.RandomState(seed).randint(
      0, 256, (size, size, 3)).astype(np.uint8))


def _high_frequency_energy(image):
  """Mean squared difference of neighbouring pixels."""
  return (np.diff(image, axis=0) ** 2).mean() + (
      np.diff(image, axis=1) ** 2).mean()


def test_with_the_new_options_off_the_output_is_todays():
  golden = np.load(_GOLDEN)
  for color in (False, True):
    tf.random.set_seed(4)
    out = preprocessing.preprocess(tf.constant(golden["image"]), 16,
                                   augment=True, color=color, seed=3)
    np.testing.assert_array_equal(out.numpy(), golden[f"color_{color}"])


def test_unknown_extra_augmentations_are_refused():
  with pytest.raises(ValueError, match="unknown augmentations flip"):
    preprocessing.preprocess(_noise(), 16, extra=("blur", "flip"))


@pytest.mark.parametrize("name", ["blur", "resample"])
def test_blur_and_resample_lower_detail_and_keep_shape_and_brightness(name):
  image = _noise()
  plain = preprocessing.resize(image, 40).numpy()
  tf.random.set_seed(1)
  outputs = [preprocessing.preprocess(image, 40, extra=(name,),
                                      seed=5).numpy() for _ in range(8)]
  energies = [_high_frequency_energy(o) for o in outputs]
  assert all(o.shape == (40, 40, 3) for o in outputs)
  # Resampled to whole pixels: sometimes the same size twice, or the
  # source's own size (no change).
  assert max(energies) <= _high_frequency_energy(plain) + 1e-3
  assert np.median(energies) < 0.8 * _high_frequency_energy(plain)
  assert len(set(energies)) >= 5  # A random amount each time.
  for o in outputs:
    assert abs(o.mean() - plain.mean()) < 2.0


def test_blur_is_gaussian_in_the_images_proportions():
  # A vertical edge in a 20x40 image: blurred across columns only, by a
  # Gaussian whose sigma is a fraction of the width.
  pixels = np.zeros((20, 40, 3), np.float32)
  pixels[:, 20:] = 200.0
  tf.random.set_seed(2)
  out = preprocessing.random_blur(tf.constant(pixels), seed=3).numpy()
  np.testing.assert_allclose(out, out[:1].repeat(20, axis=0), atol=1e-3)
  row = out[0, :, 0]
  assert np.all(np.diff(row) >= -1e-3) and 0 < row[19] < 100 < row[20] < 200
  np.testing.assert_allclose(row[::-1], 200.0 - row, atol=1e-2)  # Symmetric.


def test_corner_homography_moves_each_corner_by_its_offset():
  corners = np.array([[0.05, 0.02], [-0.04, 0.06], [0.03, -0.05],
                      [-0.02, -0.03]], np.float32)
  matrix = preprocessing.corner_homography(tf.constant(corners)).numpy()
  square = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
  moved = np.c_[square, np.ones(4)] @ matrix.T
  np.testing.assert_allclose(moved[:, :2] / moved[:, 2:], square + corners,
                             atol=1e-5)


def test_perspective_samples_the_source_where_its_homography_says():
  # Source pixel values are their own coordinates (a linear ramp, which
  # bilinear sampling reproduces exactly): the output shows where each of
  # its pixels was sampled.
  size = 40
  rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
  image = tf.constant(np.stack([20 + 5 * cols, 20 + 5 * rows,
                                np.zeros_like(rows)], -1))
  corners = np.array([[0.05, 0.02], [-0.04, 0.06], [0.03, -0.05],
                      [-0.02, -0.03]], np.float32)
  out = _transform(image, size, corners=corners)
  matrix = preprocessing.corner_homography(tf.constant(corners)).numpy()
  unit = np.stack([cols, rows, np.full_like(rows, size)], -1) + (
      0.5 - size / 2) * np.array([1, 1, 0])
  mapped = unit / size @ matrix.T
  x, y = (mapped[..., i] / mapped[..., 2] * size + size / 2 - 0.5
          for i in (0, 1))
  inside = (x >= 0) & (x <= size - 1) & (y >= 0) & (y <= size - 1)
  assert inside.mean() > 0.8
  np.testing.assert_allclose(out[..., 0][inside], 20 + 5 * x[inside],
                             atol=1e-2)
  np.testing.assert_allclose(out[..., 1][inside], 20 + 5 * y[inside],
                             atol=1e-2)
  assert np.abs(out[..., 0] - (20 + 5 * cols)).max() > 5  # It moved.
  # No corner offsets: exactly the affine resize.
  np.testing.assert_allclose(
      _transform(image, size, angle=0.1, corners=np.zeros((4, 2))),
      _transform(image, size, angle=0.1), atol=1e-3)


def test_random_perspective_keeps_the_shape_and_moves_pixels():
  image = _noise(30)
  plain = preprocessing.resize(image, 36).numpy()
  outputs = [preprocessing.preprocess(image, 36, extra=("perspective",),
                                      seed=2).numpy() for _ in range(4)]
  assert all(o.shape == (36, 36, 3) for o in outputs)
  assert all(0 <= o.min() and o.max() <= 255 for o in outputs)
  assert all(np.abs(o - plain).mean() > 5 for o in outputs)
  assert len({o.tobytes() for o in outputs}) == 4


def test_occlusion_leaves_a_constant_rectangle_and_nothing_else():
  image = _noise(30)
  plain = preprocessing.resize(image, 32).numpy()
  tf.random.set_seed(3)
  occluded = 0
  for _ in range(12):
    out = preprocessing.preprocess(image, 32, extra=("occlusion",),
                                   seed=4).numpy()
    changed = (out != plain).any(axis=-1)
    if not changed.any():
      continue
    occluded += 1
    rows, cols = np.nonzero(changed)
    box = np.zeros_like(changed)
    box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
    np.testing.assert_array_equal(changed, box)  # One whole rectangle.
    inside = out[box]
    np.testing.assert_array_equal(inside, inside[:1].repeat(len(inside), 0))
    assert 0.02 * 32 * 32 - 40 <= box.sum() <= 0.2 * 32 * 32 + 40
  assert 2 <= occluded <= 10  # About half the images.


def test_illumination_is_one_gradient_and_a_colour_cast():
  # On a flat gray image the output's log is a plane: the same slope in
  # every channel (the gradient), a different offset in each (the cast).
  image = tf.fill([20, 30, 3], 128.0)
  rows, cols = np.mgrid[0:20, 0:30]
  design = np.c_[rows.ravel(), cols.ravel(), np.ones(rows.size)]
  tf.random.set_seed(5)
  gradients = []
  for _ in range(6):
    out = preprocessing.random_illumination(image, seed=6).numpy()
    assert 0 <= out.min() and out.max() <= 255
    logs = np.log2(out / 128.0).reshape(-1, 3)
    fit, residual, _, _ = np.linalg.lstsq(design, logs, rcond=None)
    assert residual.max() < 1e-6
    np.testing.assert_allclose(fit[:2, 0], fit[:2, 1], atol=1e-5)
    np.testing.assert_allclose(fit[:2, 0], fit[:2, 2], atol=1e-5)
    assert np.ptp(fit[2]) > 1e-3
    ratio = out[..., 0].max() / out[..., 0].min()
    assert ratio <= 2 ** (preprocessing.MAX_LOG2_GRADIENT * 2 ** 0.5) + 1e-3
    gradients.append(ratio)
  assert max(gradients) > 1.3


def test_all_options_together_stay_in_range_and_vary():
  image = _image(30, 26)
  outputs = [preprocessing.preprocess(
      image, 40, augment=True, color=True,
      extra=preprocessing.EXTRA_AUGMENTATIONS, seed=7).numpy()
             for _ in range(4)]
  assert all(o.shape == (40, 40, 3) for o in outputs)
  assert all(0 <= o.min() and o.max() <= 255 for o in outputs)
  assert len({o.tobytes() for o in outputs}) == 4


def test_views_start_with_the_plain_resize_and_differ():
  image = _noise(30)
  views = preprocessing.views(image, 16, len(preprocessing.TTA_VIEWS)).numpy()
  assert views.shape == (len(preprocessing.TTA_VIEWS), 16, 16, 3)
  np.testing.assert_array_equal(views[0],
                                preprocessing.resize(image, 16).numpy())
  for i in range(1, len(views)):
    assert np.abs(views[i] - views[0]).mean() > 1.0, i
  assert views.min() >= 0 and views.max() <= 255
  with pytest.raises(ValueError, match="test-time views"):
    preprocessing.views(image, 16, len(preprocessing.TTA_VIEWS) + 1)


def test_preprocess_gives_the_views_and_refuses_augmenting_them():
  image = _noise(30)
  np.testing.assert_array_equal(
      preprocessing.preprocess(image, 16, tta_views=3).numpy(),
      preprocessing.views(image, 16, 3).numpy())
  with pytest.raises(ValueError, match="not augmented"):
    preprocessing.preprocess(image, 16, augment=True, tta_views=3)
