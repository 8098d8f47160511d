"""Freezing on GraphDef against tf.compat.v1.graph_util.convert_variables_to_constants."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.graph_tools import freeze


def _model(tmp_path, use_resource):
  """A tiny graph with two variables, a saver and a training-only branch."""
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
    w = tf.compat.v1.get_variable("w", [3, 2], use_resource=use_resource)
    b = tf.compat.v1.get_variable("b", [2], use_resource=use_resource,
                                  initializer=tf.compat.v1.ones_initializer())
    out = tf.nn.softmax(tf.matmul(x, w) + b, name="out")
    tf.compat.v1.assign_add(b, [1.0, 1.0], name="train_step")
    saver = tf.compat.v1.train.Saver()
    session = tf.compat.v1.Session(graph=graph)
    session.run(tf.compat.v1.global_variables_initializer())
    checkpoint = saver.save(session, str(tmp_path / "model.ckpt"))
    feed = {x: np.random.RandomState(0).normal(size=(4, 3))}
    want = session.run(out, feed)
    reference = tf.compat.v1.graph_util.convert_variables_to_constants(
        session, graph.as_graph_def(), ["out"])
    session.close()
  return graph.as_graph_def(), checkpoint, feed[x], want, reference


@pytest.mark.parametrize("use_resource", [False, True])
def test_matches_convert_variables_to_constants(tmp_path, helpers,
                                                use_resource):
  graph_def, checkpoint, x, want, reference = _model(tmp_path, use_resource)
  frozen = freeze.freeze_graph_def(graph_def, checkpoint, ["out"])
  ops = collections.Counter(n.op for n in frozen.node)
  assert ops == collections.Counter(n.op for n in reference.node)
  assert not {"VariableV2", "VarHandleOp", "ReadVariableOp", "AssignAddVariableOp",
              "AssignAdd", "SaveV2", "RestoreV2"} & set(ops)
  got = helpers.run_graph(frozen, {"x:0": x}, "out:0")
  np.testing.assert_allclose(got, want, rtol=1e-6)


def test_blacklisted_variable_stays_a_variable(tmp_path):
  graph_def, checkpoint, *_ = _model(tmp_path, False)
  frozen = freeze.freeze_graph_def(graph_def, checkpoint, ["out"],
                                   variable_names_blacklist=["b"])
  ops = {n.name: n.op for n in frozen.node}
  assert ops["w"] == "Const" and ops["b"] == "VariableV2"
  frozen = freeze.freeze_graph_def(graph_def, checkpoint, ["out"],
                                   variable_names_whitelist=["b"])
  ops = {n.name: n.op for n in frozen.node}
  assert ops["w"] == "VariableV2" and ops["b"] == "Const"


def test_errors(tmp_path):
  graph_def, checkpoint, *_ = _model(tmp_path, False)
  with pytest.raises(UserError, match="nope"):
    freeze.freeze_graph_def(graph_def, checkpoint, ["nope"])
  with pytest.raises(UserError, match="cannot be read"):
    freeze.freeze_graph_def(graph_def, str(tmp_path / "missing.ckpt"), ["out"])
  other = tf.Graph()
  with other.as_default():
    tf.compat.v1.get_variable("w", [3, 2])
    tf.compat.v1.get_variable("c", [2])
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      other_checkpoint = saver.save(session, str(tmp_path / "other.ckpt"))
  with pytest.raises(UserError, match="variable b is not in checkpoint"):
    freeze.freeze_graph_def(graph_def, other_checkpoint, ["out"])


def test_saved_model_input(tmp_path, helpers):
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
    w = tf.compat.v1.get_variable("w", [3, 2])
    out = tf.identity(tf.matmul(x, w), name="out")
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      want = session.run(out, {x: np.ones((1, 3))})
      builder = tf.compat.v1.saved_model.Builder(str(tmp_path / "sm"))
      builder.add_meta_graph_and_variables(session, ["serve"])
      builder.save()
  frozen = freeze.freeze_graph(None, None, str(tmp_path / "frozen.pb"),
                               ["out"], input_saved_model_dir=str(
                                   tmp_path / "sm"))
  got = helpers.run_graph(frozen, {"x:0": np.ones((1, 3))}, "out:0")
  np.testing.assert_allclose(got, want, rtol=1e-6)
  with pytest.raises(UserError, match="no MetaGraph tagged train"):
    freeze.freeze_graph(None, None, str(tmp_path / "f2.pb"), ["out"],
                        input_saved_model_dir=str(tmp_path / "sm"),
                        saved_model_tags=["train"])
