"""The calibration workflow (quantize_nodes -> insert_logging -> runs on
representative inputs -> freeze_requantization_ranges), end to end."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.graph_tools import calibration
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry


def _batches(count, seed=0):
  rng = np.random.RandomState(seed)
  for _ in range(count):
    yield rng.uniform(-1, 1, [1, 8, 8, 3]).astype(np.float32)


def test_small_graph_end_to_end(golden, helpers, tmp_path):
  case = golden("quantize_nodes")
  quantized = case.ours()
  dynamic = graph_utils.node_map(quantized)
  log = tmp_path / "ranges.log"
  frozen = calibration.calibrate(case.ours(), "x", ["out"], _batches(20),
                                 str(log))
  lines = [l for l in log.read_text().splitlines() if "__requant_min_max:" in l]
  assert len(lines) == 20 * 6  # one per run and RequantizationRange
  ops = helpers.op_counts(frozen)
  assert "RequantizationRange" not in ops and "Print" not in ops
  consts = {n.name for n in frozen.node if n.name.endswith("/frozen_max")}
  assert consts == {name + "/frozen_max" for name, n in dynamic.items()
                    if n.op == "RequantizationRange"}
  # On inputs like the representative ones the fixed ranges compute what
  # the measured ones do, within a few steps of each tensor's range.
  feeds = {"x:0": next(_batches(1, seed=5))}
  tensors = ["conv:0", "relu:0", "add:0", "mul:0"]
  got = helpers.run_graph(frozen, feeds, tensors)
  want = helpers.run_graph(case.load_input(), feeds, tensors)
  for g, w, name in zip(got, want, tensors):
    step = (w.max() - w.min()) / 255
    assert np.abs(g - w).max() <= 12 * step, name


def test_every_logged_line_holds_one_record(golden, tmp_path):
  # Six Print ops per run: run concurrently, their stderr writes interleave
  # and a line holds two records, which freeze_requantization_ranges (as the
  # C++ tool) reads as none. Enough runs make such a merge near certain.
  # A session before it sizes the process-wide inter-op pool, which later
  # sessions share unless they ask for their own (as in the full suite).
  with tf.Graph().as_default():
    with tf.compat.v1.Session(config=tf.compat.v1.ConfigProto(
        inter_op_parallelism_threads=4)) as session:
      session.run(tf.constant(0.0))
  case = golden("quantize_nodes")
  log = tmp_path / "ranges.log"
  runs = 1000
  calibration.log_ranges(case.ours(), "x", ["out"], _batches(runs), str(log))
  marked = [l for l in log.read_text().splitlines() if "__requant_min_max:" in l]
  assert [l for l in marked if l.count("__requant_min_max:") != 1] == []
  assert len(marked) == runs * 6


def test_graph_without_requantization_range_is_one_line(golden, tmp_path):
  graph = golden("quantize_nodes_fallback").ours()
  with pytest.raises(UserError, match="no RequantizationRange op") as info:
    calibration.calibrate(graph, "x", ["out"], _batches(2),
                          str(tmp_path / "r.log"))
  assert "\n" not in str(info.value)
  assert not (tmp_path / "r.log").exists()


def test_no_outputs_is_one_line(golden, tmp_path):
  with pytest.raises(UserError, match="pass --outputs="):
    calibration.calibrate(golden("quantize_nodes").ours(), "x", [],
                          _batches(2), str(tmp_path / "r.log"))


def test_no_images_is_one_line(golden, tmp_path):
  with pytest.raises(UserError, match="no calibration images"):
    calibration.calibrate(golden("quantize_nodes").ours(), "x", ["out"],
                          iter(()), str(tmp_path / "r.log"))


def test_the_tool_calibrates_a_trained_alexnet(tool, pattern_graph,
                                               pattern_gtsrb, tmp_path,
                                               helpers):
  out = tmp_path / "eightbit.pb"
  proc = tool("transform", f"--in_graph={pattern_graph}",
              f"--out_graph={out}", "--inputs=input",
              "--outputs=probabilities", "--transforms=" +
              registry.eight_bit_transforms(67),
              f"--calibration_data={pattern_gtsrb['tfrecords']}",
              "--calibration_samples=10", "--min_percentile=0",
              "--max_percentile=0")
  log = str(out) + ".ranges.log"
  assert "froze the ranges logged in " + log in proc.stdout
  graph = graph_io.load_graph_def(str(out))
  ops = helpers.op_counts(graph)
  assert ops["QuantizedConv2D"] == 5 and "RequantizationRange" not in ops
  assert ops["Const"] >= 2 * ops["Requantize"]
  from alexnet.datasets import tfrecord_reader
  images, _ = tfrecord_reader.load_split(pattern_gtsrb["tfrecords"],
                                         "validation", 67, limit=32)
  feeds = {"input:0": images.astype(np.float32)}
  got = helpers.run_graph(graph, feeds, "probabilities:0")
  want = helpers.run_graph(graph_io.load_graph_def(pattern_graph), feeds,
                           "probabilities:0")
  assert (got.argmax(1) == want.argmax(1)).mean() >= 0.9
