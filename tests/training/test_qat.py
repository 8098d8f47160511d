"""Quantization-aware training: the fake-quant rewrite (alexnet.nets.quantize)
in model_fn's graphs, a few QAT steps from tiny_model, the exported graph."""

import collections
import re

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.config import MIN_IMAGE_SIZE, ModelConfig, TrainConfig
from alexnet.core.errors import UserError
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn
from alexnet.graph_tools import graph_io
from alexnet.nets import quantize
from alexnet.training import trainer
from tests import builders

FAKE_QUANT = "FakeQuantWithMinMaxVars"
PER_CHANNEL = "FakeQuantWithMinMaxVarsPerChannel"


def _graph(mode, normalization="lrn", quantize_delay=0,
           moving_average_decay=None):
  """model_fn's graph of a fake-quantized AlexNet-67 with 3 classes."""
  model = ModelConfig(image_size=MIN_IMAGE_SIZE, num_classes=3,
                      normalization=normalization, fake_quant=True)
  graph = tf.Graph()
  with graph.as_default():
    images = tf.compat.v1.placeholder(
        tf.float32, [2, MIN_IMAGE_SIZE, MIN_IMAGE_SIZE, 3], name="input")
    labels = tf.constant([0, 1], tf.int64)
    spec = model_fn(images, None if mode == ModeKeys.PREDICT else labels,
                    mode, Params(model, TrainConfig(
                        quantize_delay=quantize_delay,
                        moving_average_decay=moving_average_decay)))
  return graph, spec


def _op_counts(graph_def, output="probabilities"):
  """Op types on the path to `output`."""
  used = tf.compat.v1.graph_util.extract_sub_graph(graph_def, [output])
  return collections.Counter(n.op for n in used.node)


@pytest.mark.parametrize("normalization, inputs", [("lrn", 3),
                                                   ("batch_norm", 1)])
@pytest.mark.parametrize("mode", [ModeKeys.TRAIN, ModeKeys.PREDICT])
def test_rewrite_quantizes_weights_and_activations(mode, normalization,
                                                   inputs):
  graph, _ = _graph(mode, normalization)
  counts = _op_counts(graph.as_graph_def())
  # Per-channel weights for the 5 convolutions, per-tensor for the 3 fc
  # layers; 8 layer outputs; the float inputs of layers (the standardized
  # image, and after each LRN).
  assert counts[PER_CHANNEL] == 5
  assert counts[FAKE_QUANT] == 3 + 8 + inputs
  # The standardization stays float: no fake quant inside it.
  assert not [n for n in graph.as_graph_def().node
              if n.op.startswith("FakeQuant") and "/standardize/" in n.name]


def test_batch_norm_is_folded_in_the_inference_graph():
  graph, _ = _graph(ModeKeys.PREDICT, "batch_norm")
  counts = _op_counts(graph.as_graph_def())
  assert not [op for op in counts if op.startswith("FusedBatchNorm")]


def test_folded_convolution_matches_batch_norm():
  """conv1 + batch norm (moving statistics) of the float network equals the
  fake-quantized folded convolution within the quantization error."""
  model = ModelConfig(image_size=MIN_IMAGE_SIZE, num_classes=3,
                      normalization="batch_norm")
  rng = np.random.RandomState(0)
  images = rng.uniform(0, 255, (2, MIN_IMAGE_SIZE, MIN_IMAGE_SIZE, 3))
  stats = {"moving_mean": rng.normal(0, 20, 96),
           "moving_variance": rng.uniform(100, 900, 96),
           "gamma": rng.uniform(0.5, 2, 96), "beta": rng.normal(0, 1, 96)}
  outputs = []
  for fake_quant in (False, True):
    with tf.Graph().as_default() as graph:
      tf.compat.v1.set_random_seed(0)
      x = tf.compat.v1.placeholder(tf.float32, images.shape)
      model_fn(x, None, ModeKeys.PREDICT,
               Params(model.replace(fake_quant=fake_quant)))
      with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        for name, value in stats.items():
          variable = [v for v in tf.compat.v1.global_variables()
                      if v.op.name == f"alexnet/conv1/BatchNorm/{name}"][0]
          variable.load(value.astype(np.float32), sess)
        outputs.append(sess.run(graph.get_tensor_by_name(
            "alexnet/conv1/Relu:0"), {x: images}))
  float_out, quantized = outputs
  assert float_out.max() > 0
  assert np.abs(quantized - float_out).max() < 0.05 * float_out.max()


def test_quantize_delay_selects_the_float_network_first():
  graph, _ = _graph(ModeKeys.TRAIN, "batch_norm", quantize_delay=5)
  selects = [op for op in graph.get_operations() if op.type == "SelectV2"
             and re.search(r"^alexnet/\w+/delay(_\d+)?$", op.name)]
  # Each folded batch norm, the other 6 layers' weights, 9 activations.
  assert len(selects) == 2 + 6 + 9


def test_moving_averages_cover_weights_and_ranges_not_the_step():
  # The gtsrb-99 recipe (moving averages) fine-tuned quantization-aware.
  graph, _ = _graph(ModeKeys.TRAIN, "batch_norm", moving_average_decay=0.999)
  suffix = "/ExponentialMovingAverage"
  averaged = {v.op.name[:-len(suffix)] for v in graph.get_collection(
      tf.compat.v1.GraphKeys.GLOBAL_VARIABLES) if v.op.name.endswith(suffix)}
  assert "alexnet/fc8/weights" in averaged and "global_step" not in averaged
  assert any(quantize.is_range_variable(name) for name in averaged)


def _ranges(checkpoint):
  reader = tf.train.load_checkpoint(checkpoint)
  return {name: float(reader.get_tensor(name))
          for name, _ in tf.train.list_variables(checkpoint)
          if quantize.is_range_variable(name) and
          not name.endswith("ExponentialMovingAverage")}


@pytest.mark.slow  # the qat_model fixture's training
def test_qat_steps_learn_finite_moving_ranges(qat_model, tiny_model):
  checkpoints = tf.train.get_checkpoint_state(qat_model)
  first, last = (checkpoints.all_model_checkpoint_paths[0],
                 checkpoints.model_checkpoint_path)
  assert first.endswith("-0") and not last.endswith("-0")
  start, end = _ranges(first), _ranges(last)
  assert len(end) == 2 * (8 + 3)  # min and max of each activation range
  assert set(start.values()) == set(quantize.INITIAL_RANGE)
  for name, value in end.items():
    assert np.isfinite(value) and value != start[name], name
    if name.endswith("/min"):
      assert value <= 0 < end[name[:-3] + "max"], name
  # Started from the float model: its weights, slightly fine-tuned.
  float_weights = tf.train.load_variable(
      tf.train.latest_checkpoint(f"{tiny_model}/best"), "alexnet/fc8/weights")
  qat_weights = tf.train.load_variable(last, "alexnet/fc8/weights")
  assert np.abs(qat_weights - float_weights).max() < 0.1 * np.abs(
      float_weights).max()


def _const(nodes, name):
  """The Const node behind `name` (a frozen variable's read is an Identity)."""
  node = nodes[name.split(":")[0]]
  while node.op == "Identity":
    node = nodes[node.input[0].split(":")[0]]
  assert node.op == "Const", name
  return node


@pytest.mark.slow
def test_exported_graph_carries_the_trained_ranges(qat_graph, qat_model):
  graph_def = graph_io.load_graph_def(qat_graph)
  counts = _op_counts(graph_def)
  assert counts[PER_CHANNEL] == 5 and counts[FAKE_QUANT] == 3 + 8 + 3
  nodes = {n.name: n for n in graph_def.node}
  ranges = _ranges(tf.train.latest_checkpoint(qat_model))
  for name in ("alexnet/conv1/input_quant", "alexnet/fc8/act_quant"):
    fake_quant = [n for n in graph_def.node if n.op == FAKE_QUANT and
                  n.name.startswith(name)][0]
    low, high = (float(tf.make_ndarray(_const(nodes, i).attr["value"].tensor))
                 for i in fake_quant.input[1:3])
    assert (low, high) == pytest.approx(
        (ranges[f"{name}/min"], ranges[f"{name}/max"]))


def test_quantize_delay_beyond_the_run_is_refused(tiny_gtsrb, tmp_path):
  steps = 2 * 3  # builders.COLORS: 2 epochs of 3 steps
  with pytest.raises(UserError, match=r"--quantize_delay=6 is not below the "
                     r"run's 6 steps.*lower it"):
    trainer.train(tiny_gtsrb["tfrecords"], str(tmp_path / "qat"),
                  builders.COLORS.model,
                  builders.COLORS.train.replace(quantize_delay=steps))


def test_float_model_dir_is_not_continued_quantized(tiny_gtsrb, tiny_model):
  with pytest.raises(UserError, match="holds a float model.*--init_checkpoint"):
    trainer.train(tiny_gtsrb["tfrecords"], tiny_model, builders.COLORS.model,
                  builders.COLORS.train.replace(quantize_delay=0))


def test_init_checkpoint_of_another_network_is_refused(tiny_gtsrb, tiny_model,
                                                       tmp_path):
  other = builders.COLORS.model.replace(input_standardization="fixed")
  with pytest.raises(UserError, match=r"--init_checkpoint=.* was trained with "
                     r"--input_standardization=per_image, not fixed"):
    trainer.train(tiny_gtsrb["tfrecords"], str(tmp_path / "qat"), other,
                  builders.quantization_aware(builders.COLORS,
                                              tiny_model).train)
  assert not (tmp_path / "qat" / "model.ckpt-0.index").exists()
