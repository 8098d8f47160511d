"""The transform pipeline: errors, ignore_errors, output checks."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import registry
from alexnet.graph_tools import tensor_store


def test_unknown_transform_lists_what_is_available(golden):
  with pytest.raises(UserError) as info:
    registry.transform_graph(golden("remove_nodes").load_input(), ["x"],
                             ["out"], "fold_everything")
  message = str(info.value)
  assert "fold_everything" in message and "\n" not in message
  assert all(name in message for name in registry.TRANSFORM_NAMES)


def test_unknown_argument_lists_known_ones(golden):
  with pytest.raises(UserError, match="num_steps"):
    registry.transform_graph(golden("remove_nodes").load_input(), ["x"],
                             ["out"], "round_weights(steps=3)")


def test_bad_value_is_reported(golden):
  with pytest.raises(UserError, match="integer"):
    registry.transform_graph(golden("remove_nodes").load_input(), ["x"],
                             ["out"], "round_weights(num_steps=many)")


def test_ignore_errors_keeps_the_graph(golden):
  graph = golden("remove_nodes").load_input()
  before = graph.SerializeToString()
  out = registry.transform_graph(graph, ["x"], ["out"],
                                 "remove_nodes(ignore_errors=true)")
  assert out.SerializeToString() == before


def test_unknown_names_are_rejected(golden):
  for inputs, outputs in ((["nope"], ["out"]), (["x"], ["nope:0"])):
    with pytest.raises(UserError, match="nope"):
      registry.transform_graph(golden("remove_nodes").load_input(), inputs,
                               outputs, "remove_device")


def test_folding_never_removes_a_requested_output(golden):
  # The C++ fold_batch_norms would rename the convolution 'conv' away even
  # when it is a requested output; ours leaves that match alone.
  case = golden("fold_batch_norms")
  out = registry.transform_graph(case.load_input(), ["x"], ["out", "conv"],
                                 "fold_constants fold_batch_norms")
  names = {n.name for n in out.node}
  assert "conv" in names and "dw" not in names


def _documented_arguments():
  """{transform: set of `arguments`} from docs/graph_transforms.md's table."""
  path = os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                      "graph_transforms.md")
  with open(path) as f:
    text = f.read()
  table = text[text.index("### Transforms"):]
  documented = {}
  for row in re.findall(r"^\| `(\w+)` \| ([^|]*) \|", table, re.M):
    name, options = row
    documented[name] = set(re.findall(r"`(\w+)`", options))
  return documented


def test_docs_document_exactly_each_transforms_arguments():
  documented = _documented_arguments()
  assert sorted(documented) == sorted(registry.TRANSFORM_NAMES)
  for name, args in registry.TRANSFORM_ARGS.items():
    assert documented[name] == set(args), name


def test_stats_record_what_each_transform_did(golden):
  graph = golden("remove_nodes").load_input()
  nodes, size = len(graph.node), graph.ByteSize()
  stats = []
  out = registry.transform_graph(
      graph, ["x"], ["out"],
      'strip_unused_nodes(type=float, shape="1,4,4,1") '
      "remove_nodes(op=Identity, op=CheckNumerics) remove_device", stats=stats)
  assert [r.transform for r in stats] == [
      'strip_unused_nodes(type=float, shape="1,4,4,1")',
      "remove_nodes(op=Identity, op=CheckNumerics)", "remove_device"]
  assert stats[0].nodes_before == nodes and stats[0].bytes_before == size
  assert stats[0].nodes_after < stats[0].nodes_before  # unused_sum, Const
  assert stats[1].nodes_after == stats[1].nodes_before - 4
  assert stats[2].nodes_after == stats[2].nodes_before
  for before, after in zip(stats, stats[1:]):
    assert (after.nodes_before, after.bytes_before) == (before.nodes_after,
                                                        before.bytes_after)
  assert stats[-1].nodes_after == len(out.node)
  assert stats[-1].bytes_after == out.ByteSize()
  assert all(r.seconds >= 0 and r.ignored_error is None for r in stats)


def test_stats_count_contents_held_in_a_tensor_store(tmp_path):
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 512], name="x")
    w = np.random.RandomState(0).normal(size=(512, 1024)).astype(np.float32)
    tf.identity(tf.matmul(x, tf.constant(w, name="w")), name="out")
  graph_io.save_graph_def(graph.as_graph_def(), str(tmp_path / "in.pb"))
  tensors = tensor_store.TensorStore()
  graph_def = graph_io.load_graph_def(str(tmp_path / "in.pb"), tensors=tensors)
  assert graph_def.ByteSize() < w.nbytes  # The weights sit in the store.
  stats = []
  graph_def = registry.transform_graph(
      graph_def, ["x"], ["out"], "round_weights(num_steps=16) remove_device",
      tensors, stats=stats)
  graph_io.save_graph_def(graph_def, str(tmp_path / "out.pb"),
                          tensors=tensors)
  assert stats[0].bytes_before == os.path.getsize(tmp_path / "in.pb")
  assert stats[-1].bytes_after == os.path.getsize(tmp_path / "out.pb")


def test_stats_record_an_ignored_error(golden):
  graph = golden("remove_nodes").load_input()
  stats = []
  registry.transform_graph(graph, ["x"], ["out"],
                           "remove_nodes(ignore_errors=true)", stats=stats)
  (record,) = stats
  assert record.ignored_error and "remove_nodes" in record.ignored_error
  assert record.nodes_after == record.nodes_before == len(graph.node)
  assert "(error ignored: " in registry.format_report(stats)


def test_format_report_is_a_markdown_table():
  records = [
      registry.TransformRecord('strip_unused_nodes(shape="1,2|3")', 30, 12,
                               2345678, 1234567, 0.01234, None),
      registry.TransformRecord("remove_device", 12, 12, 1234567, 1234500,
                               0.5, None)]
  lines = registry.format_report(records).splitlines()
  assert len(lines) == 4
  assert lines[0].startswith("| transform | nodes before | nodes after |")
  assert lines[2] == ('| `strip_unused_nodes(shape="1,2\\|3")` | 30 | 12 | '
                      "2,345,678 | 1,234,567 | 0.012 |")
  assert all(line.count(" | ") == 5 for line in lines)
