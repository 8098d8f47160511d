"""Resize and augmentation ops: geometry checked against numpy and tf.image."""

import math

import numpy as np
import pytest
import tensorflow as tf

from alexnet.datasets import preprocessing


def _image(height, width, seed=0):
  return tf.constant(np.random.RandomState(seed).randint(
      0, 256, (height, width, 3)), tf.uint8)


def _transform(image, size, angle=0.0, scale=1.0, shift=(0.0, 0.0)):
  return preprocessing.affine_resize(image, size, tf.constant(angle),
                                     tf.constant(scale),
                                     tf.constant(shift)).numpy()


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
          preprocessing.random_affine_resize(image, 99, seed=3), seed=3),
      seed=3).numpy()
  assert np.abs(source_first - resized_first).mean() < 2.0
  assert not np.array_equal(source_first, resized_first)
