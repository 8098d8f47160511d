"""fold_constants against the C++ reference and its own rules."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  ours, _ = golden("fold_constants").check()
  # b1 + b2 and square(s) + 1 are now single Consts.
  assert not {"AddV2", "Square"} & {n.op for n in ours.node}


def test_matches_reference_after_remove_nodes(golden):
  golden("fold_constants_after_remove").check()


def _graph_with_random():
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
    noise = tf.random.uniform([2], name="noise")
    folded = tf.add(tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]),
                    name="sum")
    tf.identity(x + noise + folded, name="out")
  return graph.as_graph_def()


def test_stateful_ops_are_not_folded(helpers):
  out = registry.transform_graph(_graph_with_random(), ["x"], ["out"],
                                 "fold_constants")
  ops = helpers.op_counts(out)
  assert ops["RandomUniform"] == 1
  cf = [n for n in out.node if "__cf__" in n.name]
  assert len(cf) == 1
  value = tf.make_ndarray(cf[0].attr["value"].tensor)
  np.testing.assert_array_equal(value, [4.0, 6.0])


def test_needs_outputs():
  with pytest.raises(UserError, match="--outputs"):
    registry.transform_graph(_graph_with_random(), ["x"], [],
                             "fold_constants")


def test_size_limit_keeps_large_results_unfolded():
  out = registry.transform_graph(
      _graph_with_random(), ["x"], ["out"],
      "fold_constants(max_constant_size_in_bytes=4)")
  assert "sum" in {n.name for n in out.node}
  assert not [n for n in out.node if "__cf__" in n.name]


def test_graph_mode_caller_folds_the_same_through_a_session(helpers):
  # Eager execution (the usual path) and the Session (graph-mode callers,
  # ops eager execution cannot be given) must fold to the same graph.
  eager = registry.transform_graph(_graph_with_random(), ["x"], ["out"],
                                   "fold_constants")
  with tf.Graph().as_default():
    assert not tf.executing_eagerly()
    in_session = registry.transform_graph(_graph_with_random(), ["x"],
                                          ["out"], "fold_constants")
  assert [n for n in eager.node if "__cf__" in n.name]
  assert eager == in_session
