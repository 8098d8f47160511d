"""The original project's transform list on a frozen random-init AlexNet.

Both normalizations at 67x67 (the smallest input AlexNet takes). Op-type
counts are compared with the C++ tool's results recorded in
golden/reference.json by make_golden.py on the same network.
"""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.graph_tools import freeze
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import registry
from alexnet.graph_tools import tensor_store
from alexnet.nets import alexnet

SIZE = 67


def _freeze_random_alexnet(checkpoint_path, normalization,
                           input_standardization="per_image"):
  """A frozen random-init AlexNet-67; batch-norm moving statistics are set
  away from 0/1 so that folding them shows."""
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(1)
    logits, _ = alexnet.alexnet(alexnet.input_placeholder(SIZE),
                                normalization=normalization,
                                input_standardization=input_standardization)
    alexnet.inference_outputs(logits)
    rng = np.random.RandomState(0)
    assigns = [v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
               for v in tf.compat.v1.global_variables() if "moving" in v.name]
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
