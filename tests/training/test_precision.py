"""--precision=bfloat16: refused where the CPU cannot, a bfloat16 step where
it can, and a float32 model out of it that freezes and converts as any."""

import collections
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2
from tensorflow.python.util import _pywrap_util_port as port

from alexnet.core import session
from alexnet.core.config import ModelConfig, TrainConfig
from alexnet.core.errors import UserError
from alexnet.estimator import train_log
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn
from alexnet.graph_tools import graph_io
from alexnet.lite import converter
from alexnet.runner import model_files
from tests import builders

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# The flags of a 2-core AVX2-only AMD EPYC (machine B) and of an AVX-512 one
# with BF16, cut to what matters and some neighbours.
AVX2_ONLY = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2 adx"
AVX512_BF16 = AVX2_ONLY + " avx512f avx512bw avx512_vnni avx512_bf16"
AMX = AVX2_ONLY + " avx512f avx512bw amx_tile amx_bf16 amx_int8"

_HERE_PROBLEM = session.bfloat16_problem(session.cpu_flags(),
                                         port.IsMklEnabled())
needs_bfloat16 = pytest.mark.skipif(
    _HERE_PROBLEM is not None, reason=f"bfloat16: {_HERE_PROBLEM}")


@pytest.mark.parametrize("flags, onednn, expected", [
    (AVX512_BF16, True, None),
    (AMX, True, None),
    (AVX2_ONLY, True, "no native bfloat16 (neither avx512_bf16 nor amx_bf16"),
    # AVX-512 alone would emulate bfloat16.
    ("avx2 avx512f avx512bw avx512_vnni", True, "no native bfloat16"),
    # A name that merely contains one is not it.
    ("avx2 xavx512_bf16", True, "no native bfloat16"),
    (AVX512_BF16, False, "TF_ENABLE_ONEDNN_OPTS=0"),
])
def test_bfloat16_problem_reads_the_cpu_flags(flags, onednn, expected):
  problem = session.bfloat16_problem(flags, onednn)
  if expected is None:
    assert problem is None
  else:
    assert expected in problem


def test_precision_is_a_checked_setting():
  assert TrainConfig().precision == "float32"
  with pytest.raises(UserError, match="--precision=float16 is not one of "
                     "float32, bfloat16"):
    TrainConfig(precision="float16")


@pytest.mark.slow
@pytest.mark.parametrize("tool_name, data_flag, output_flag", [
    ("train", "--data_dir", "--model_dir"),
    ("pipeline", "--data", "--output_dir"),
])
def test_refused_in_one_line_without_onednn(tiny_gtsrb, tmp_path, tool_name,
                                            data_flag, output_flag):
  # oneDNN off is a machine that cannot: the refusal comes before any work.
  # A process of its own, started with oneDNN off (TensorFlow reads it once).
  env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"}
  output = tmp_path / "out"
  proc = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "tools", tool_name + ".py"),
       f"{data_flag}={tiny_gtsrb['tfrecords']}", f"{output_flag}={output}",
       "--precision=bfloat16"], cwd=REPO_ROOT, env=env, capture_output=True,
      text=True, timeout=300, check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1] == (
      "error: --precision=bfloat16 refused: TensorFlow's oneDNN kernels are "
      "off (TF_ENABLE_ONEDNN_OPTS=0), and the bfloat16 rewrite is theirs: "
      "unset it")
  assert not output.exists()


def _step_dtypes(precision):
  """{op type: count} of the bfloat16 nodes in the graphs one training step
  of AlexNet-67 ran at `precision`, and the variables' float dtypes."""
  with tf.Graph().as_default():
    images = tf.random.uniform([2, 67, 67, 3], 0, 255)
    labels = tf.constant([0, 1], tf.int64)
    spec = model_fn(images, labels, ModeKeys.TRAIN,
                    Params(ModelConfig(image_size=67, num_classes=3)))
    variables = {v.dtype.base_dtype for v in tf.compat.v1.global_variables()
                 if v.dtype.base_dtype != tf.int64}  # but the global step
    metadata = tf.compat.v1.RunMetadata()
    with tf.compat.v1.Session(
        config=session.session_config(2, precision)) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      sess.run(spec.train_op, run_metadata=metadata, options=(
          tf.compat.v1.RunOptions(output_partition_graphs=True)))
  bfloat16 = collections.Counter(
      node.op for graph in metadata.partition_graphs for node in graph.node
      if any(node.attr[k].type == tf.bfloat16.as_datatype_enum
             for k in ("T", "DstT") if k in node.attr))
  return bfloat16, variables


@pytest.mark.slow
@needs_bfloat16
def test_bfloat16_step_runs_the_math_in_bfloat16_on_float32_weights():
  bfloat16, variables = _step_dtypes("bfloat16")
  assert variables == {tf.float32}
  # The convolutions, both their gradients and the fully connected layers.
  assert {"_MklNativeConv2DBackpropFilter", "_MklNativeConv2DBackpropInput",
          "_MklMatMul", "Cast"} <= set(bfloat16), bfloat16
  assert _step_dtypes("float32")[0] == {}


@pytest.fixture(scope="module")
def bfloat16_model(tiny_gtsrb, tmp_path_factory):
  """tiny_model's run (builders.COLORS) at --precision=bfloat16."""
  tiny_set = builders.COLORS.replace(
      train=builders.COLORS.train.replace(precision="bfloat16"))
  return builders.train_model(
      tiny_gtsrb["tfrecords"], str(tmp_path_factory.mktemp("bf16") / "run"),
      tiny_set)


@pytest.mark.slow
@needs_bfloat16
def test_bfloat16_training_lowers_loss_like_float32(bfloat16_model,
                                                    tiny_model):
  batches, epochs = train_log.read(train_log.log_path(bfloat16_model))
  floats, _ = train_log.read(train_log.log_path(tiny_model))
  assert len(batches) == 6
  assert batches[-1]["cross_entropy"] < batches[0]["cross_entropy"]
  assert epochs[-1]["val_top1"] >= 2 / 3
  # Same seed, same first batch, same initial weights: bfloat16 rounding
  # (8 bits of mantissa) moves the first loss by well under 5%.
  assert batches[0]["cross_entropy"] == pytest.approx(
      floats[0]["cross_entropy"], rel=0.05)


@pytest.mark.slow
@needs_bfloat16
def test_bfloat16_model_freezes_float32_and_converts(bfloat16_model,
                                                     tiny_gtsrb, tmp_path):
  frozen = builders.freeze_model(bfloat16_model, str(tmp_path / "frozen.pb"))
  graph_def = graph_io.load_graph_def(frozen)
  dtypes = {attr.type for node in graph_def.node
            for attr in node.attr.values() if attr.type}
  dtypes |= {node.attr["value"].tensor.dtype for node in graph_def.node
             if node.op == "Const"}
  assert tf.float32.as_datatype_enum in dtypes
  assert tf.bfloat16.as_datatype_enum not in dtypes
  tflite = str(tmp_path / "model.tflite")
  converter.convert_frozen_graph(frozen, tflite)
  data = tiny_gtsrb["tfrecords"]
  graph = model_files.evaluate_frozen_graph(frozen, data, "validation",
                                            latency_runs=0)
  lite = model_files.evaluate_tflite(tflite, data, "validation",
                                     graph["probabilities"], latency_runs=0)
  assert lite["agreement"] == 1.0
  np.testing.assert_allclose(lite["probabilities"], graph["probabilities"],
                             atol=1e-4)


def test_session_options_carry_threads_and_precision():
  plain = session.session_config(2)
  assert (plain.intra_op_parallelism_threads,
          plain.inter_op_parallelism_threads) == (2, 2)
  assert (plain.graph_options.rewrite_options
          .auto_mixed_precision_onednn_bfloat16) == (
              rewriter_config_pb2.RewriterConfig.DEFAULT)
  mixed = session.session_config(2, "bfloat16", inter_op_threads=1)
  assert mixed.inter_op_parallelism_threads == 1
  assert (mixed.graph_options.rewrite_options
          .auto_mixed_precision_onednn_bfloat16) == (
              rewriter_config_pb2.RewriterConfig.ON)
