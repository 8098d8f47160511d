"""quantize_weights against the C++ reference; the result runs in TF 2.21."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from alexnet.graph_tools import graph_io
from alexnet.graph_tools import graph_utils


def test_matches_reference(golden):
  ours, reference = golden("quantize_weights").check()
  quantized = {n.name: graph_utils.const_value(n) for n in reference.node
               if n.op == "Const" and n.attr["dtype"].type == types_pb2.DT_QUINT8}
  assert set(quantized) == {"big_quantized_const", "mid_quantized_const"}
  for node in ours.node:
    if node.name in quantized:
      assert node.attr["dtype"].type == types_pb2.DT_QUINT8
      diff = np.abs(graph_utils.const_value(node).astype(int) -
                    quantized[node.name].astype(int))
      assert diff.max() <= 1


def test_small_minimum_runs_and_stays_within_a_step(golden, helpers):
  # The reference turns the all-zero tensor into NaNs (range [0, FLT_MIN]);
  # ours keeps it 0, so compare with the unquantized graph instead.
  case = golden("quantize_weights_small")
  ours = case.ours()
  assert helpers.op_counts(ours) == helpers.op_counts(case.reference())
  original = case.load_input()
  feeds = helpers.feed_for(original, "x")
  got = helpers.run_graph(ours, feeds, "out:0")
  want = helpers.run_graph(original, feeds, "out:0")
  assert np.isfinite(got).all()
  dequantize = {n.name for n in ours.node if n.op == "Dequantize"}
  assert {"zeros", "same_value", "all_negative", "big", "mid"} <= dequantize
  # Each weight is off by at most half a step of its range; through two
  # 40- and 74-long dot products on inputs in [-1, 1] the output stays close.
  assert np.abs(got - want).max() < 0.5


def test_tflite_converter_rejects_dequantize(golden, tmp_path):
  # What docs/graph_transforms.md states: builtin-only conversion fails on
  # the tf.Dequantize ops this transform inserts.
  path = tmp_path / "q.pb"
  graph_io.save_graph_def(golden("quantize_weights").ours(), str(path))
  converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
      str(path), ["x"], ["out"], {"x": [1, 40]})
  with pytest.raises(Exception, match="Dequantize"):
    converter.convert()
