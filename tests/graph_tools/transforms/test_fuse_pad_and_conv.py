"""fuse_pad_and_conv against the C++ reference and its own rules."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  ours, _ = golden("fuse_pad_and_conv").check()
  fused = {n.name: n for n in ours.node if n.op == "FusedPadConv2D"}
  assert set(fused) == {"conv1", "conv2"}
  assert "MirrorPad" not in {n.op for n in ours.node}
  assert fused["conv2"].attr["mode"].s == b"SYMMETRIC"
  assert list(fused["conv2"].input) == ["Relu", "pad2/paddings", "w2"]


def test_fuses_chains_and_shared_weights(golden, helpers):
  # The C++ matcher claims a pattern's inputs too, so it skips a pad+conv
  # that reads an already fused conv or shares its weights: 2 of 4 here.
  case = golden("fuse_pad_and_conv_chain")
  expected = helpers.op_counts(case.reference())
  left = expected.pop("MirrorPad")
  expected["Conv2D"] -= left
  expected["FusedPadConv2D"] += left
  ours, _ = case.check(expected_ops=expected)
  assert {n.name for n in ours.node if n.op == "FusedPadConv2D"} == {
      "conv1", "conv2", "conv3", "conv4"}


def _pad_conv(extra=None):
  """x -> MirrorPad 'pad' -> Conv2D 'conv'; `extra` may read the pad."""
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [1, 5, 5, 2], name="x")
    paddings = tf.constant([[0, 0], [1, 1], [1, 1], [0, 0]],
                           name="pad/paddings")
    with tf.control_dependencies([tf.no_op(name="dep")]):
      pad = tf.raw_ops.MirrorPad(input=x, paddings=paddings, mode="REFLECT",
                                 name="pad")
    weights = tf.constant(np.ones([3, 3, 2, 2], np.float32), name="w")
    tf.nn.conv2d(pad, weights, 1, "VALID", name="conv")
    if extra:
      extra(pad)
  return graph.as_graph_def()


def _fuse(graph_def, outputs=("conv",)):
  return registry.transform_graph(graph_def, ["x"], list(outputs),
                                  "fuse_pad_and_conv")


def test_control_inputs_move_to_the_fused_op(helpers):
  graph = _pad_conv()
  feeds = helpers.feed_for(graph, "x")
  want = helpers.run_graph(graph, feeds, "conv:0")
  ours = _fuse(graph)
  conv = next(n for n in ours.node if n.name == "conv")
  assert conv.op == "FusedPadConv2D" and "^dep" in conv.input
  np.testing.assert_allclose(helpers.run_graph(ours, feeds, "conv:0"), want,
                             atol=1e-5)


def _nchw():
  graph = _pad_conv()
  next(n for n in graph.node if n.name == "conv").attr["data_format"].s = (
      b"NCHW")
  return graph


@pytest.mark.parametrize("graph, outputs", [
    (_pad_conv(extra=lambda pad: tf.identity(pad, name="other")),
     ("conv", "other")),
    (_pad_conv(), ("conv", "pad")),
    (_nchw(), ("conv",)),
])
def test_leaves_what_it_cannot_fuse(graph, outputs):
  # A pad read elsewhere or requested, or NCHW (the fused op is NHWC only).
  before = graph.SerializeToString()
  ours = _fuse(graph, outputs)
  assert ours.SerializeToString() == before


def test_batch_padding_is_not_fused():
  graph = _pad_conv()
  paddings = next(n for n in graph.node if n.name == "pad/paddings")
  paddings.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(
      np.array([[1, 0], [1, 1], [1, 1], [0, 0]], np.int32)))
  assert "FusedPadConv2D" not in {n.op for n in _fuse(graph).node}


def test_fused_kernel_reads_the_first_image_only():
  # Why docs/graph_transforms.md says batch size 1: TensorFlow's
  # FusedPadConv2D (2.12 and 2.21) computes every image from the first.
  images = np.random.RandomState(0).uniform(-1, 1, [2, 5, 5, 2]).astype(
      np.float32)
  weights = np.ones([3, 3, 2, 2], np.float32)
  pads = [[0, 0], [1, 1], [1, 1], [0, 0]]
  fused = tf.raw_ops.FusedPadConv2D(input=images, paddings=pads,
                                    filter=weights, mode="REFLECT",
                                    strides=[1, 1, 1, 1], padding="VALID")
  separate = tf.nn.conv2d(tf.pad(images, pads, mode="REFLECT"), weights, 1,
                          "VALID")
  np.testing.assert_allclose(fused[0], separate[0], atol=1e-5)
  np.testing.assert_allclose(fused[1], separate[0], atol=1e-5)
  assert np.abs(fused[1] - separate[1]).max() > 0.1


@pytest.mark.parametrize("transforms, named", [
    ("fuse_pad_and_conv(mode=REFLECT)", "'mode'"),
    ("fuse_pad_and_conv(ignore_errors=maybe)", "'ignore_errors'"),
])
def test_bad_arguments_are_one_line_errors(transforms, named):
  graph = _pad_conv()
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], ["conv"], transforms)
  message = str(info.value)
  assert "fuse_pad_and_conv" in message and named in message
  assert "\n" not in message
  assert graph.SerializeToString() == before
