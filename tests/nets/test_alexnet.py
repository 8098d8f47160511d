"""AlexNet graph construction: layer shapes, variants, node names."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.nets import alexnet as alexnet_lib
from alexnet.nets import nets_factory


def _build(image_size, **kwargs):
  graph = tf.Graph()
  with graph.as_default():
    images = alexnet_lib.input_placeholder(image_size)
    logits, end_points = alexnet_lib.alexnet(images, **kwargs)
  return graph, images, logits, end_points


@pytest.mark.parametrize("normalization", ["lrn", "batch_norm"])
def test_layer_shapes_at_227(normalization):
  _, _, logits, end_points = _build(227, normalization=normalization)
  shapes = {k.split("/")[-1]: v.shape.as_list()[1:]
            for k, v in end_points.items()}
  assert shapes["conv1"] == [55, 55, 96]
  assert shapes["pool1"] == [27, 27, 96]
  assert shapes["conv2"] == [27, 27, 256]
  assert shapes["pool2"] == [13, 13, 256]
  assert shapes["conv3"] == [13, 13, 384]
  assert shapes["conv4"] == [13, 13, 384]
  assert shapes["conv5"] == [13, 13, 256]
  assert shapes["pool5"] == [6, 6, 256]
  assert shapes["fc6"] == shapes["fc7"] == [4096]
  assert logits.shape.as_list() == [None, 43]
  assert ("lrn1" in shapes) == (normalization == "lrn")
  assert alexnet_lib.alexnet.default_image_size == 227


def test_variables_and_weight_decay():
  graph, _, _, _ = _build(227, num_classes=10)
  with graph.as_default():
    variables = {v.op.name: v.shape.as_list()
                 for v in tf.compat.v1.global_variables()}
    decay = tf.compat.v1.get_collection(
        tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
  assert variables["alexnet/conv1/weights"] == [11, 11, 3, 96]
  assert variables["alexnet/fc6/weights"] == [6 * 6 * 256, 4096]
  assert variables["alexnet/fc8/biases"] == [10]
  assert len(variables) == 16  # 8 layers x (weights, biases)
  assert len(decay) == 8  # weights only
  # Reference variables, which TensorFlow's freeze_graph handles.
  assert {op.type for op in graph.get_operations()
          if op.name in variables} == {"VariableV2"}


def test_batch_norm_variant_is_foldable():
  graph, _, _, _ = _build(67, normalization="batch_norm", is_training=True)
  with graph.as_default():
    updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    trainable = [v.op.name for v in tf.compat.v1.trainable_variables()]
  assert len(updates) == 4  # moving mean and variance of two layers
  assert "alexnet/conv1/BatchNorm/gamma" in trainable
  assert "alexnet/conv1/biases" not in trainable
  eval_graph, _, _, _ = _build(67, normalization="batch_norm")
  ops = eval_graph.get_operations()
  fused = [op for op in ops if op.type.startswith("FusedBatchNorm")]
  assert len(fused) == 2
  # The BN reads the convolution directly: what fold_batch_norms matches.
  assert all(op.inputs[0].op.type == "Conv2D" for op in fused)
  assert not [op for op in ops if op.type == "LRN"]


def test_smallest_input_runs_and_dropout_only_in_training():
  graph, images, logits, end_points = _build(67, is_training=True)
  assert end_points["alexnet/pool5"].shape.as_list()[1:] == [1, 1, 256]
  assert any(op.type == "LRN" for op in graph.get_operations())
  with graph.as_default(), tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    x = np.random.RandomState(0).uniform(0, 255, [2, 67, 67, 3])
    a, b = sess.run(logits, {images: x}), sess.run(logits, {images: x})
  assert a.shape == (2, 43) and np.isfinite(a).all()
  assert not np.allclose(a, b)  # dropout differs between runs
  eval_graph, _, _, _ = _build(67)
  assert not [op for op in eval_graph.get_operations() if "dropout" in op.name]


def test_too_small_input_is_refused():
  with pytest.raises(ValueError, match="at least 67"):
    _build(66)


@pytest.mark.parametrize("method", ["per_image", "fixed"])
def test_input_standardization(method):
  x = np.random.RandomState(1).uniform(0, 255, [3, 8, 8, 3]).astype(np.float32)
  x[2] = 40.0  # a uniform image: standardization must not divide by zero
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    ours = sess.run(alexnet_lib.standardize_images(tf.constant(x), method))
    if method == "per_image":
      expected = sess.run(tf.image.per_image_standardization(tf.constant(x)))
    else:
      expected = x / 127.5 - 1.0
  np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)
  assert np.isfinite(ours).all()


def _equalized(image):
  """Numpy reference: each channel's level l -> share of its pixels <= l."""
  out = np.empty_like(image)
  for c in range(image.shape[-1]):
    levels = np.floor(image[..., c]).astype(int)
    cdf = np.cumsum(np.bincount(levels.ravel(), minlength=256)) / levels.size
    out[..., c] = cdf[levels]
  return out


def test_equalize_matches_numpy_histogram_equalization():
  rng = np.random.RandomState(2)
  x = (rng.uniform(0, 1, [3, 9, 7, 3]) ** 3 * 255).astype(np.float32)
  x[2] = 40.0  # uniform: every pixel maps to 1, standardized to 0
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    equalized, standardized = sess.run([
        alexnet_lib.equalize_histograms(tf.constant(x)),
        alexnet_lib.standardize_images(tf.constant(x), "equalize")])
  expected = np.stack([_equalized(image) for image in x])
  np.testing.assert_allclose(equalized, expected, atol=1e-6)
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    want = sess.run(tf.image.per_image_standardization(tf.constant(expected)))
  np.testing.assert_allclose(standardized, want, rtol=1e-4, atol=1e-5)
  assert np.isfinite(standardized).all()


def test_equalize_undoes_a_monotonic_brightening():
  """A dark image (levels 0..127) and the same image brightened by a gamma
  curve that keeps levels distinct reach the network as the same input,
  which per-image standardization alone does not give."""
  dark = np.random.RandomState(3).randint(0, 128, [1, 67, 67, 3])
  bright = np.round(255 * (dark / 127.0) ** 0.5)
  assert len(np.unique(bright)) == len(np.unique(dark))
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    a, b, plain_a, plain_b = sess.run([
        alexnet_lib.standardize_images(tf.constant(x, tf.float32), method)
        for method in ("equalize", "per_image") for x in (dark, bright)])
  np.testing.assert_allclose(a, b, atol=1e-5)
  assert np.abs(plain_a - plain_b).max() > 0.1


def test_inference_output_names():
  graph = tf.Graph()
  with graph.as_default():
    images = alexnet_lib.input_placeholder(67)
    logits, _ = alexnet_lib.alexnet(images, num_classes=5)
    outputs = alexnet_lib.inference_outputs(logits)
  assert graph.get_tensor_by_name("input:0") is images
  for name in alexnet_lib.OUTPUT_NODES:
    assert outputs[name].name == f"{name}:0"
  assert outputs["classes"].dtype == tf.int64
  assert outputs["probabilities"].shape.as_list() == [None, 5]


def test_nets_factory():
  fn = nets_factory.get_network_fn("alexnet", num_classes=7,
                                   normalization="batch_norm")
  assert fn.default_image_size == 227
  with tf.Graph().as_default():
    logits, end_points = fn(alexnet_lib.input_placeholder(67))
  assert logits.shape.as_list() == [None, 7]
  assert "alexnet/conv5" in end_points
  with pytest.raises(UserError, match="unknown network 'vgg'"):
    nets_factory.get_network_fn("vgg", num_classes=7)
