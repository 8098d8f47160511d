"""quantize_nodes against the C++ reference; the result runs on TF 2.21's
eight-bit kernels and stays within quantization error of the float graph."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry
from alexnet.graph_tools.transforms import quantize_nodes

# Tensors of the eightbit graph that keep their names (a Dequantize reads
# each eight-bit result back under the float op's name).
_TENSORS = ["conv:0", "relu:0", "concat:0", "flat:0", "add:0", "mul:0"]


def _worst_step_error(got, want):
  """Largest error in steps of 1/255 of the float tensor's range."""
  span = max(float(want.max() - want.min()), 1e-6)
  return np.abs(got - want).max() / (span / 255)


@pytest.mark.parametrize("name", [
    "quantize_nodes", "quantize_nodes_weights", "quantize_nodes_fallback",
    "quantize_nodes_ignore_op", "quantize_nodes_fake_quant"])
def test_matches_reference(golden, name):
  ours, reference = golden(name).check(atol=0)
  # Reshape left out as in the C++ test: quantizing adds float ones.
  remaining = {n.op for n in ours.node} & (set(quantize_nodes.OPS) -
                                           {"Reshape"})
  ignored = {"quantize_nodes_ignore_op": {"MatMul", "Concat"}}
  assert remaining == ignored.get(name, set())


# Each conversion rounds by half a step and the errors add up along the
# chain of eight-bit ops, the most in the product of the two matrix
# products at the end (measured: at most 7.9 steps, in mul).
_STEPS = 10


@pytest.mark.parametrize("name", ["quantize_nodes", "quantize_nodes_weights"])
def test_outputs_within_quantization_error(golden, helpers, name):
  case = golden(name)
  feeds = helpers.feed_for(case.load_input(), "x", batch=4)
  got = helpers.run_graph(case.ours(), feeds, _TENSORS)
  want = helpers.run_graph(case.load_input(), feeds, _TENSORS)
  errors = [_worst_step_error(g, w) for g, w in zip(got, want)]
  assert max(errors) <= _STEPS, dict(zip(_TENSORS, errors))
  assert min(errors) > 0  # computed in eight bits, not in float


def test_fallback_range_clips_to_it(golden, helpers):
  case = golden("quantize_nodes_fallback")
  feeds = helpers.feed_for(case.load_input(), "x", batch=4)
  (got,) = helpers.run_graph(case.ours(), feeds, ["conv:0"])
  assert got.min() >= -12 and got.max() <= 12
  assert not any(n.op == "RequantizationRange" for n in case.ours().node)


def test_fake_quant_ranges_are_used(golden, helpers):
  case = golden("quantize_nodes_fake_quant")
  ours = case.ours()
  feeds = helpers.feed_for(case.load_input(), "x", batch=4)
  got = helpers.run_graph(ours, feeds, "act_quant:0")
  want = helpers.run_graph(case.load_input(), feeds, "act_quant:0")
  # The activation range trained into the FakeQuant ([0, 6]) bounds it,
  # as it bounds the float graph's.
  assert got.min() >= 0 and got.max() <= 6 + 1e-6
  # Within a few steps of that range: the input's and weights' rounding
  # summed over the convolution's 27 terms, then the requantization's
  # (measured: 3 steps).
  assert np.abs(got - want).max() <= 4 * 6 / 255
  assert helpers.op_counts(ours)["RequantizationRange"] == 1  # conv only


def test_input_range_takes_quint8_input(golden, helpers):
  case = golden("quantize_nodes_input_range")
  ours, reference = case.ours(), case.reference()
  assert helpers.op_counts(ours) == helpers.op_counts(reference)
  placeholder = next(n for n in ours.node if n.name == "x")
  assert placeholder.attr["dtype"].type == types_pb2.DT_QUINT8
  floats = helpers.feed_for(case.load_input(), "x", batch=4)["x:0"]
  # q = (v - min) * 255 / (max - min), as the C++ test feeds it.
  quantized = np.round((floats + 1) * 127.5).astype(np.uint8)
  got = helpers.run_graph(ours, {"x:0": quantized}, _TENSORS)
  for g, r in zip(got, helpers.run_graph(reference, {"x:0": quantized},
                                         _TENSORS)):
    np.testing.assert_array_equal(g, r)
  want = helpers.run_graph(case.load_input(), {"x:0": floats}, _TENSORS)
  assert max(_worst_step_error(g, w) for g, w in zip(got, want)) <= _STEPS


def test_same_tensor_twice_is_quantized_once(golden, helpers):
  # The C++ tool fails here ("RenameNodeInputs argument contains a cycle").
  case = golden("quantize_nodes_square")
  assert "cycle" in case.spec["error"]
  ours = case.ours()
  main = next(n for n in ours.node if n.op == "QuantizedMul")
  assert main.input[0] == main.input[1]
  feeds = helpers.feed_for(case.load_input(), "x", batch=4)
  got = helpers.run_graph(ours, feeds, "out:0")
  want = helpers.run_graph(case.load_input(), feeds, "out:0")
  # relu's rounding, doubled by the square (measured 3.3 steps).
  assert _worst_step_error(got, want) <= 4


def test_convolutions_the_kernel_cannot_run_stay_float(helpers):
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
    w = tf.constant(np.ones([3, 3, 3, 2], np.float32), name="w")
    dilated = tf.nn.conv2d(x, w, 1, "SAME", dilations=2, name="dilated")
    tf.nn.relu(dilated, name="out")
  out = registry.transform_graph(graph.as_graph_def(), ["x"], ["out"],
                                 "quantize_nodes")
  ops = helpers.op_counts(out)
  assert ops["Conv2D"] == 1 and ops["QuantizedRelu"] == 1


def _no_quantizable_op():
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
    tf.nn.softmax(tf.math.subtract(x, 1.0), name="out")
  return graph.as_graph_def()


def test_no_quantizable_op_is_one_line():
  graph = _no_quantizable_op()
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], ["out"], "quantize_nodes")
  message = str(info.value)
  assert message.startswith("quantize_nodes: the graph has no float32 op")
  assert "MatMul" in message and "\n" not in message
  assert graph.SerializeToString() == before
  out = registry.transform_graph(graph, ["x"], ["out"],
                                 "quantize_nodes(ignore_errors=true)")
  assert out.SerializeToString() == before


def test_all_ops_ignored_is_the_same_error(golden):
  ignore = ", ".join(f"ignore_op={op}" for op in quantize_nodes.OPS)
  with pytest.raises(UserError, match="no float32 op with an eight-bit"):
    registry.transform_graph(golden("quantize_nodes").load_input(), ["x"],
                             ["out"], f"quantize_nodes({ignore})")


@pytest.mark.parametrize("args,match", [
    ("input_min=0", "give both input_min and input_max"),
    ("fallback_max=3", "give both fallback_min and fallback_max"),
    ("fallback_min=2, fallback_max=1", "must be below"),
])
def test_bad_ranges_are_one_line(golden, args, match):
  with pytest.raises(UserError, match=match) as info:
    registry.transform_graph(golden("quantize_nodes").load_input(), ["x"],
                             ["out"], f"quantize_nodes({args})")
  assert "\n" not in str(info.value)


def test_tf_2_21_has_every_kernel_it_writes():
  # What docs/graph_transforms.md states: every op quantize_nodes writes has
  # a quint8 CPU kernel in TF 2.21; the C++ tool's QuantizedConv2DTranspose
  # (for Conv2DBackpropInput) is no op at all.
  from tensorflow.python.framework import kernels
  written = ["Quantized" + op for op in quantize_nodes.OPS] + [
      "QuantizeV2", "Dequantize", "Requantize", "RequantizationRange"]
  for op in written:
    assert any(k.device_type == "CPU"
               for k in kernels.get_registered_kernels_for_op(op).kernel), op
  assert not kernels.get_registered_kernels_for_op(
      "QuantizedConv2DTranspose").kernel
  assert "Conv2DBackpropInput" not in quantize_nodes.OPS


@pytest.mark.slow
def test_qat_graph_requantizes_to_its_trained_ranges(qat_graph, tiny_gtsrb,
                                                     helpers):
  # A frozen quantization-aware graph (alexnet/nets/quantize.py): each
  # activation FakeQuant has Const ranges, so its Requantize takes them and
  # replaces a measured RequantizationRange; the weights' FakeQuants (ranges
  # computed from the weights, per channel for the convolutions) stay.
  from alexnet.datasets import tfrecord_reader
  from alexnet.graph_tools import graph_io
  frozen = graph_io.load_graph_def(qat_graph)
  size = next(n for n in frozen.node if n.name == "input").attr[
      "shape"].shape.dim[1].size
  out = registry.transform_graph(
      graph_io.load_graph_def(qat_graph), ["input"], ["probabilities"],
      registry.eight_bit_transforms(size))
  ops = helpers.op_counts(out)
  wide = ops["QuantizedConv2D"] + ops["QuantizedMatMul"] + ops[
      "QuantizedBiasAdd"]
  assert wide == 16 and ops["RequantizationRange"] == 8
  assert ops["Requantize"] > ops["RequantizationRange"]
  images, _ = tfrecord_reader.load_split(tiny_gtsrb["tfrecords"],
                                         "validation", size)
  feeds = {"input:0": images.astype(np.float32)}
  got = helpers.run_graph(out, feeds, "probabilities:0")
  want = helpers.run_graph(frozen, feeds, "probabilities:0")
  assert (got.argmax(1) == want.argmax(1)).mean() >= 0.75
