"""Transforms on a frozen random-init AlexNet: the original list, and each
registered transform on its own.

Both normalizations at 67x67 (the smallest input AlexNet takes). Op-type
counts are compared with the C++ tool's results recorded in
golden/reference.json by make_golden.py on the same network.
"""

import collections

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.graph_tools import calibration
from alexnet.graph_tools import freeze
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import registry
from alexnet.graph_tools import tensor_store
from alexnet.nets import alexnet

SIZE = 67

# Every test here freezes or runs whole AlexNets (seconds each); the golden
# tests cover each transform on small graphs in the fast run.
pytestmark = pytest.mark.slow


def _freeze_random_alexnet(checkpoint_path, normalization,
                           input_standardization="per_image",
                           spatial_transformer=False):
  """A frozen random-init AlexNet-67; batch-norm moving statistics are set
  away from 0/1 so that folding them shows, and a spatial transformer's
  last layer away from its identity start, so it warps each image its own
  way."""
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(1)
    logits, _ = alexnet.alexnet(alexnet.input_placeholder(SIZE),
                                normalization=normalization,
                                input_standardization=input_standardization,
                                spatial_transformer=spatial_transformer)
    alexnet.inference_outputs(logits)
    rng = np.random.RandomState(0)
    assigns = [v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
               for v in tf.compat.v1.global_variables() if "moving" in v.name]
    for v in tf.compat.v1.global_variables():
      if "loc_fc2/weights" in v.name:
        assigns.append(v.assign(rng.normal(0, 0.01, v.shape)))
      elif "loc_fc2/biases" in v.name:  # a zoom in, shifted, sheared
        assigns.append(v.assign(np.float32([0.9, 0, 0, 0, 0.9, 0]) +
                                rng.normal(0, 0.1, 6)))
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      session.run(assigns)
      checkpoint = saver.save(session, str(checkpoint_path))
  return freeze.freeze_graph_def(graph.as_graph_def(), checkpoint,
                                 ["probabilities", "classes"])


@pytest.fixture(scope="module")
def frozen(tmp_path_factory, helpers):
  """normalization -> serialized frozen GraphDef (parsed fresh per use), and
  (normalization, "want") -> its probabilities on the test images."""
  result = {}
  for normalization in ("lrn", "batch_norm"):
    frozen_graph = _freeze_random_alexnet(
        tmp_path_factory.mktemp(normalization) / "model.ckpt", normalization)
    result[normalization] = frozen_graph.SerializeToString()
    result[normalization, "want"] = _predict(helpers, frozen_graph)
  return result


def _graph(frozen, normalization):
  return tf.compat.v1.GraphDef.FromString(frozen[normalization])


def _predict(helpers, graph_def):
  images = np.random.RandomState(3).uniform(0, 255, (4, SIZE, SIZE, 3))
  return helpers.run_graph(graph_def, {"input:0": images.astype(np.float32)},
                   "probabilities:0")


def _reference(helpers, key):
  return helpers.load_golden()["alexnet"][key]


def _v3_folded(ops):
  """Reference counts with the FusedBatchNormV3s (which the 2.12 tool does
  not fold) folded: each becomes a BiasAdd, its 4 stat Consts one offset."""
  ops = dict(ops)
  v3 = ops.pop("FusedBatchNormV3", 0)
  ops["BiasAdd"] = ops.get("BiasAdd", 0) + v3
  ops["Const"] -= 3 * v3
  return ops


@pytest.mark.parametrize("normalization", ["lrn", "batch_norm"])
def test_original_list_keeps_predictions(frozen, helpers, normalization):
  graph = _graph(frozen, normalization)
  want = frozen[normalization, "want"]
  out = registry.transform_graph(graph, ["input"], ["probabilities"],
                                 registry.ORIGINAL_TRANSFORMS)
  reference = _reference(helpers, f"{normalization}/original_list")
  assert reference["transforms"] == registry.ORIGINAL_TRANSFORMS
  assert helpers.op_counts(out) == _v3_folded(reference["ops"])
  got = _predict(helpers, out)
  # round_weights moves every weight by up to half of 1/256 of its range.
  np.testing.assert_allclose(got, want, atol=0.02)
  assert (got.argmax(1) == want.argmax(1)).mean() >= 0.75


def test_fold_old_batch_norms_removes_batch_norm(frozen, helpers):
  graph = _graph(frozen, "batch_norm")
  want = frozen["batch_norm", "want"]
  transforms = _reference(helpers, "batch_norm/fold_old_batch_norms")
  out = registry.transform_graph(graph, ["input"], ["probabilities"],
                                 transforms["transforms"])
  ops = helpers.op_counts(out)
  assert ops == _v3_folded(transforms["ops"])
  assert "FusedBatchNormV3" not in ops
  np.testing.assert_allclose(_predict(helpers, out), want, atol=1e-5)


@pytest.mark.parametrize("normalization", ["lrn", "batch_norm"])
def test_fold_constants_matches_reference(frozen, helpers, normalization):
  graph = _graph(frozen, normalization)
  want = frozen[normalization, "want"]
  out = registry.transform_graph(graph, ["input"], ["probabilities"],
                                 "fold_constants(ignore_errors=true)")
  assert helpers.op_counts(out) == _reference(
      helpers, f"{normalization}/fold_constants")["ops"]
  np.testing.assert_allclose(_predict(helpers, out), want, atol=1e-6)


def test_quantize_weights_runs_in_tf(frozen, helpers):
  graph = _graph(frozen, "lrn")
  want = frozen["lrn", "want"]
  size = graph.ByteSize()
  out = registry.transform_graph(graph, ["input"], ["probabilities"],
                                 "quantize_weights")
  assert helpers.op_counts(out) == _reference(
      helpers, "lrn/quantize_weights")["ops"]
  assert out.ByteSize() < size / 3.5
  np.testing.assert_allclose(_predict(helpers, out), want, atol=0.05)


@pytest.mark.parametrize("normalization", ["lrn", "batch_norm"])
def test_eight_bit_list_matches_reference(frozen, helpers, normalization):
  graph = _graph(frozen, normalization)
  reference = _reference(helpers, f"{normalization}/eight_bit_list")
  assert reference["transforms"] == registry.eight_bit_transforms()
  out = registry.transform_graph(graph, ["input"], ["probabilities"],
                                 reference["transforms"])
  ops = helpers.op_counts(out)
  if normalization == "lrn":
    assert ops == reference["ops"]
  else:
    # Ours folds the FusedBatchNormV3s (the 2.12 tool does not): each is a
    # BiasAdd, computed in eight bits like the others.
    assert "FusedBatchNormV3" not in ops
    assert ops["QuantizedBiasAdd"] == reference["ops"]["QuantizedBiasAdd"] + 2
  assert ops["QuantizedConv2D"] == 5 and ops["QuantizedMatMul"] == 3
  got = _predict(helpers, out)
  np.testing.assert_allclose(got, frozen[normalization, "want"], rtol=0,
                             atol=_EIGHT_BIT_ATOL["quantize_nodes"])


@pytest.mark.parametrize("transforms", [
    registry.ORIGINAL_TRANSFORMS,
    "remove_nodes(op=Identity) fold_old_batch_norms quantize_weights"])
def test_tensor_store_gives_the_same_graph(frozen, tmp_path, transforms):
  # tools/transform.py keeps large weights outside the proto; the result
  # must be exactly what the in-proto path computes.
  path = tmp_path / "frozen.pb"
  path.write_bytes(frozen["batch_norm"])
  tensors = tensor_store.TensorStore()
  graph = graph_io.load_graph_def(str(path), tensors=tensors)
  assert any(tensor_store.MARKER in n.attr for n in graph.node)
  out = registry.transform_graph(graph, ["input"], ["probabilities"],
                                 transforms, tensors)
  plain = registry.transform_graph(_graph(frozen, "batch_norm"), ["input"],
                                   ["probabilities"], transforms)
  assert tensors.attached_copy(out) == plain


def test_transforms_keep_an_equalizing_network(tmp_path, helpers):
  """input_standardization="equalize" adds histogram ops (Floor, Cast,
  UnsortedSegmentSum, Cumsum, GatherV2) and batch-dependent Shape ops; the
  original list without its rounding keeps the predictions exactly."""
  frozen_graph = _freeze_random_alexnet(tmp_path / "model.ckpt", "batch_norm",
                                        input_standardization="equalize")
  want = _predict(helpers, frozen_graph)
  transforms = registry.original_transforms(SIZE).replace(
      "round_weights(num_steps=256) ", "")
  out = registry.transform_graph(frozen_graph, ["input"], ["probabilities"],
                                 transforms)
  ops = helpers.op_counts(out)
  assert ops["UnsortedSegmentSum"] == ops["Cumsum"] == 1
  assert "FusedBatchNormV3" not in ops
  # strip_unused_nodes keeps the existing Placeholder, batch free: _predict
  # feeds 4 images through the Shape ops.
  np.testing.assert_allclose(_predict(helpers, out), want, atol=1e-5)


def test_transforms_keep_a_spatial_transformer(tmp_path, helpers):
  """A spatial transformer's sampler (Floor, Cast, GatherV2 on coordinates
  from its theta): the original list without its rounding keeps the
  predictions exactly, and quantize_weights leaves the sampler's
  coordinate rows float (below its minimum_size)."""
  frozen = _freeze_random_alexnet(tmp_path / "model.ckpt", "batch_norm",
                                  spatial_transformer=True).SerializeToString()
  want = _predict(helpers, tf.compat.v1.GraphDef.FromString(frozen))
  transforms = registry.original_transforms(SIZE).replace(
      "round_weights(num_steps=256) ", "")
  # transform_graph consumes the graph it is given: each call a fresh copy.
  out = registry.transform_graph(tf.compat.v1.GraphDef.FromString(frozen),
                                 ["input"], ["probabilities"], transforms)
  assert helpers.op_counts(out)["GatherV2"] == 4
  np.testing.assert_allclose(_predict(helpers, out), want, atol=1e-5)
  quantized = registry.transform_graph(
      tf.compat.v1.GraphDef.FromString(frozen), ["input"], ["probabilities"],
      "fold_constants(ignore_errors=true) quantize_weights")
  sampler = [n for n in quantized.node if "/sampler/" in n.name]
  assert sampler and all(n.op != "Dequantize" for n in sampler)
  assert "Dequantize" in helpers.op_counts(quantized)


# How a transform runs on AlexNet: its arguments (as inside its parentheses),
# the transforms run first so that it finds its pattern, and the
# normalizations on which it finds nothing to do (the graph it is given must
# then come back unchanged; on the others it must change). A transform not
# listed runs without arguments and must change both graphs.
_Case = collections.namedtuple("_Case", "args before idle",
                               defaults=("", "", ()))
_BOTH = ("lrn", "batch_norm")
_CASES = {
    # TF 2.21 writes every defaulted attribute when it builds the graph.
    "add_default_attributes": _Case(idle=_BOTH),
    # The flatten is a Reshape: no ConcatV2.
    "backport_concatv2": _Case(idle=_BOTH),
    "backport_tensor_array_v3": _Case(idle=_BOTH),
    # No SpaceToBatchND: no dilated convolution.
    "flatten_atrous_conv": _Case(idle=_BOTH),
    # No Mul after a convolution or MatMul: AlexNet's batch norm is a
    # FusedBatchNormV3, which fold_old_batch_norms folds into a BiasAdd.
    "fold_batch_norms": _Case(idle=_BOTH),
    # It needs Const weights and statistics; the frozen graph reads them
    # through Identity ops.
    "fold_old_batch_norms": _Case(before="remove_nodes(op=Identity)",
                                  idle=("lrn",)),
    # No MirrorPad and no ResizeBilinear. (Were anything fused, _predict's
    # batch of 4 would be wrong: the fused kernels are right for batch 1.)
    "fuse_pad_and_conv": _Case(idle=_BOTH),
    "fuse_resize_and_conv": _Case(idle=_BOTH),
    "fuse_resize_pad_and_conv": _Case(idle=_BOTH),
    # {log}: ranges logged on random images by calibration.log_ranges.
    "freeze_requantization_ranges": _Case('min_max_log_file="{log}"',
                                          before="quantize_nodes"),
    "insert_logging": _Case("op=Relu, first_n=1"),
    "inline_partitionedcall": _Case(idle=_BOTH),
    # The colocation hints on the weights' Identity reads.
    "remove_attribute": _Case("attribute_name=_class"),
    # Freezing leaves no control inputs.
    "remove_control_dependencies": _Case(idle=_BOTH),
    # The frozen graph has no devices.
    "remove_device": _Case(before='set_device(device="/device:CPU:0")'),
    "remove_nodes": _Case("op=Identity, op=CheckNumerics"),
    # TensorFlow ignores attributes it does not know that start with `_`.
    "rename_attribute": _Case(
        "old_attribute_name=_class, new_attribute_name=_colocation"),
    # A weight: its Identity read's colocation hint (`_class`) follows.
    "rename_node": _Case(
        "old_node_name=alexnet/conv1/weights, new_node_name=conv1_weights"),
    # Per-image standardization divides floats: Div computes the same.
    "rename_op": _Case("old_op_name=RealDiv, new_op_name=Div"),
    "round_weights": _Case("num_steps=256"),
    "set_device": _Case('device="/device:CPU:0"'),
    # No Gather (per-image standardization).
    "sparsify_gather": _Case(idle=_BOTH),
    # As in the original list; `classes` is no requested output.
    "strip_unused_nodes": _Case('type=float, shape="1,67,67,3"'),
}

# The lossy transforms as docs/graph_transforms.md states them: the largest
# change of a probability it allows (measured on these networks: 0.007 and
# 0.015), the number of steps a tensor's range is cut into, the smallest
# Const changed, and whether the range is widened to include 0.
_Lossy = collections.namedtuple(
    "_Lossy", "probability_atol steps min_elements include_zero")
_LOSSY = {
    "round_weights": _Lossy(0.01, 256, 16, False),
    "quantize_weights": _Lossy(0.02, 255, 1024, True),
}
# The eight-bit ones: the largest change of a probability they may make.
# A random-init AlexNet's activations lose ~1% per layer to dynamic
# per-tensor ranges and the error grows through the layers (measured: up
# to 0.17 with measured ranges, 0.26 with ranges frozen from 8 random
# images), so this only says they still compute the network; the trained
# GTSRB network's agreement is in BENCHMARKS.md.
_EIGHT_BIT_ATOL = {"quantize_nodes": 0.3, "freeze_requantization_ranges": 0.4}


def _random_images(count, seed):
  rng = np.random.RandomState(seed)
  for _ in range(count):
    yield rng.uniform(0, 255, (1, SIZE, SIZE, 3)).astype(np.float32)


def _half_step(values, lossy):
  """Half a step of the range of `values`: the error bound the docs state.
  As in the transforms, the range reaches up to 0 (round_weights: to the
  smallest positive float), with include_zero also down to 0, and a
  constant tensor's range [v, v] is widened to |v| (to 1 near 0)."""
  low = min(values.min(), 0) if lossy.include_zero else values.min()
  span = max(values.max(), 0) - low
  if span == 0:
    span = abs(low) if abs(low) >= 1e-6 else 1
  return span / (2 * lossy.steps)


def _assert_weights_within_bound(frozen_graph, out, lossy, helpers):
  """Every float Const of `frozen_graph` reads, in `out` (a tf.Graph: a
  Const or the Dequantize of its name), within half a step, or unchanged if
  small."""
  consts = [n for n in frozen_graph.node if n.op == "Const" and
            n.attr["dtype"].type == tf.float32.as_datatype_enum]
  got = helpers.run_graph(out, {}, [n.name + ":0" for n in consts])
  for node, values in zip(consts, got):
    want = tf.make_ndarray(node.attr["value"].tensor)
    # 0.1% for float32 rounding in the transforms and in Dequantize.
    bound = (_half_step(want, lossy) * 1.001
             if want.size >= lossy.min_elements else 0)
    assert np.abs(values - want).max() <= bound, node.name


@pytest.mark.parametrize("normalization", ["lrn", "batch_norm"])
@pytest.mark.parametrize("name", registry.TRANSFORM_NAMES)
def test_every_transform_keeps_predictions(frozen, helpers, name,
                                           normalization, tmp_path):
  case = _CASES.get(name, _Case())
  graph = _graph(frozen, normalization)
  if case.before:
    graph = registry.transform_graph(graph, ["input"], ["probabilities"],
                                     case.before)
  args = case.args
  if "{log}" in args:
    log = str(tmp_path / "ranges.log")
    calibration.log_ranges(graph, "input", ["probabilities"],
                           _random_images(8, seed=7), log)
    args = args.replace("{log}", log)
  given = tf.compat.v1.GraphDef()
  given.CopyFrom(graph)
  transform = f"{name}({args})"
  try:
    out = registry.transform_graph(graph, ["input"], ["probabilities"],
                                   transform)
  except UserError as e:
    pytest.fail(f"{transform} fails on AlexNet ({e}): give it arguments in "
                "_CASES")
  idle = normalization in case.idle
  unchanged = out == given
  assert unchanged == idle, (
      f"{transform} {'changed' if idle else 'did not change'} the "
      f"{normalization} AlexNet: give it a _CASES entry or correct its idle=")
  if unchanged:
    return  # what it was given imports and predicts (the other cases)
  # How tools/ and the pipeline load a graph (UserError if TF refuses it).
  imported = graph_io.import_graph(out, f"the result of {transform}")
  got = _predict(helpers, imported)
  want = frozen[normalization, "want"]
  lossy = _LOSSY.get(name)
  if name in _EIGHT_BIT_ATOL:
    np.testing.assert_allclose(got, want, rtol=0,
                               atol=_EIGHT_BIT_ATOL[name])
  elif lossy is None:
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  else:
    np.testing.assert_allclose(got, want, rtol=0,
                               atol=lossy.probability_atol)
    _assert_weights_within_bound(_graph(frozen, normalization), imported,
                                 lossy, helpers)
