"""The spatial transformer: its sampler against numpy, its identity start,
its gradient, and its place in AlexNet."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.nets import alexnet
from alexnet.nets import spatial_transformer as st


def _sample(images, theta):
  """The sampler alone: images [B, H, W, C] through theta [B, 6]."""
  _, height, width, channels = images.shape
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    x, y = st.affine_grid(tf.constant(theta, tf.float32), height, width)
    out = st.bilinear_sample(tf.constant(images), x, y)
    return sess.run(tf.reshape(out, [-1, height, width, channels]))


def _images(shape, seed=0):
  return np.random.RandomState(seed).uniform(0, 255, shape).astype(np.float32)


def test_identity_reads_every_pixel_back():
  images = _images((2, 9, 7, 3))
  np.testing.assert_allclose(_sample(images, [st.IDENTITY] * 2), images,
                             atol=1e-3)


def test_a_whole_pixel_shift_moves_the_image_and_repeats_the_edge():
  images = _images((1, 8, 10, 3))
  # x + 2 pixels: 2 * 2 / (width - 1) in normalized coordinates.
  out = _sample(images, [[1, 0, 4 / 9, 0, 1, 0]])
  np.testing.assert_allclose(out[:, :, :-2], images[:, :, 2:], atol=1e-3)
  for column in (-2, -1):
    np.testing.assert_allclose(out[:, :, column], images[:, :, -1], atol=1e-3)


def test_a_quarter_turn_is_numpy_rot90():
  images = _images((1, 6, 6, 2))
  # Output (x, y) reads input (-y, x): a quarter turn counterclockwise.
  out = _sample(images, [[0, -1, 0, 1, 0, 0]])
  np.testing.assert_allclose(out[0], np.rot90(images[0], k=1), atol=1e-3)


def test_half_way_between_pixels_is_their_mean():
  images = _images((1, 4, 5, 1))
  # Half a pixel right: x + 0.5 * 2 / (width - 1).
  out = _sample(images, [[1, 0, 0.25, 0, 1, 0]])
  np.testing.assert_allclose(
      out[0, :, :-1], (images[0, :, :-1] + images[0, :, 1:]) / 2, atol=1e-3)


def test_the_transformer_starts_as_the_identity_and_has_a_gradient():
  images = _images((2, 67, 67, 3))
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    placeholder = tf.compat.v1.placeholder(tf.float32, [None, 67, 67, 3])
    out, end_points = st.spatial_transformer(placeholder)
    theta = end_points["spatial_transformer/theta"]
    # A loss that prefers another pose: the last layer gets a gradient
    # (the earlier ones only once its zero weights have moved).
    loss = tf.reduce_sum(out * tf.constant(images[::-1]))
    variables = tf.compat.v1.trainable_variables()
    grads = tf.gradients(loss, variables)
    sess.run(tf.compat.v1.global_variables_initializer())
    got, got_theta, got_grads = sess.run([out, theta, grads],
                                         {placeholder: images})
  np.testing.assert_allclose(got, images, atol=1e-2)
  np.testing.assert_allclose(got_theta, [st.IDENTITY] * 2, atol=1e-6)
  names = [v.op.name for v in variables]
  assert names == [f"spatial_transformer/{layer}/{kind}"
                   for layer in ("loc_conv1", "loc_conv2", "loc_fc1",
                                 "loc_fc2")
                   for kind in ("weights", "biases")]
  by_name = dict(zip(names, got_grads))
  for name in ("spatial_transformer/loc_fc2/weights",
               "spatial_transformer/loc_fc2/biases"):
    assert np.all(np.isfinite(by_name[name])) and np.abs(
        by_name[name]).max() > 0, name


@pytest.mark.parametrize("size", [67, 99, 227])
def test_alexnet_puts_it_before_the_standardization(size):
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [None, size, size, 3])
    logits, end_points = alexnet.alexnet(images, spatial_transformer=True,
                                         fc_units=16)
    assert logits.shape.as_list() == [None, 43]
    keys = list(end_points)
    assert keys[:3] == ["alexnet/spatial_transformer/theta",
                        "alexnet/spatial_transformer/transformed",
                        "alexnet/standardized"]
    assert end_points["alexnet/spatial_transformer/transformed"].shape[
        1:].as_list() == [size, size, 3]
    sampler = [op for op in tf.compat.v1.get_default_graph().get_operations()
               if "/spatial_transformer/sampler/" in op.name]
    assert {"GatherV2", "Floor"} <= {op.type for op in sampler}
    names = {v.op.name for v in tf.compat.v1.trainable_variables()}
    assert "alexnet/spatial_transformer/loc_fc2/weights" in names
    assert "alexnet/conv1/weights" in names


def test_without_it_alexnet_has_no_transformer():
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [None, 67, 67, 3])
    _, end_points = alexnet.alexnet(images, fc_units=16)
    assert not any("spatial_transformer" in v.op.name
                   for v in tf.compat.v1.global_variables())
    assert next(iter(end_points)) == "alexnet/standardized"
