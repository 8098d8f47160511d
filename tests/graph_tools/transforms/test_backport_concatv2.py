"""backport_concatv2 against the C++ reference and its own rules."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  case = golden("backport_concatv2")
  original = graph_utils.node_map(case.load_input())
  ours, reference = case.check()
  for node in ours.node:
    if node.name in ("wide", "tall", "last_axis"):
      old = graph_utils.data_inputs(original[node.name])
      assert node.op == "Concat" and "Tidx" not in node.attr
      assert list(node.input) == [old[-1]] + old[:-1]
      assert node == graph_utils.node_map(reference)[node.name]


def _concat_with_control_input(axis_dtype=tf.int32):
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
    values, axis = [x, -x], tf.constant(1, axis_dtype)
    with tf.control_dependencies([tf.no_op(name="dep")]):
      tf.raw_ops.ConcatV2(values=values, axis=axis, name="concat")
  return graph.as_graph_def()


def test_control_inputs_stay_last(helpers):
  graph = _concat_with_control_input()
  assert next(n for n in graph.node if n.name == "concat").input[-1] == (
      "^dep")
  feeds = helpers.feed_for(graph, "x")
  want = helpers.run_graph(graph, feeds, "concat:0")
  out = registry.transform_graph(graph, ["x"], ["concat"], "backport_concatv2")
  concat = next(n for n in out.node if n.name == "concat")
  assert concat.op == "Concat" and concat.input[-1] == "^dep"
  np.testing.assert_array_equal(helpers.run_graph(out, feeds, "concat:0"),
                                want)


def test_int64_axis_is_an_error():
  graph = _concat_with_control_input(tf.int64)
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], ["concat"], "backport_concatv2")
  message = str(info.value)
  assert message.startswith("backport_concatv2: 'concat'")
  assert "\n" not in message
  assert graph.SerializeToString() == before


@pytest.mark.parametrize("transforms, named", [
    ("backport_concatv2(axis=0)", "'axis'"),
    ("backport_concatv2(ignore_errors=sometimes)", "'ignore_errors'"),
])
def test_bad_arguments_are_one_line_errors(golden, transforms, named):
  graph = golden("backport_concatv2").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], ["out"], transforms)
  message = str(info.value)
  assert "backport_concatv2" in message and named in message
  assert "\n" not in message
  assert graph.SerializeToString() == before
