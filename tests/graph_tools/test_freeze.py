"""Freezing on GraphDef against convert_variables_to_constants and against
TensorFlow's own freeze_graph on the scenarios of its freeze_graph_test."""

import collections
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saver_pb2
from tensorflow.python.tools import freeze_graph as tf_freeze_graph

from alexnet.core.errors import UserError
from alexnet.graph_tools import freeze
from alexnet.graph_tools import graph_io


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
  with pytest.raises(UserError, match="missing.ckpt not found"):
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


# TensorFlow's freeze_graph_test.py scenarios, each frozen by TensorFlow's
# own freeze_graph.freeze_graph and by ours.

def _tf_freeze(**kwargs):
  """TensorFlow's freeze_graph.freeze_graph, in a graph of its own."""
  args = dict(input_graph="", input_saver="", input_binary=False,
              input_checkpoint="", output_node_names="out",
              restore_op_name="save/restore_all",
              filename_tensor_name="save/Const:0", output_graph="",
              clear_devices=True, initializer_nodes="")
  args.update(kwargs)
  with tf.Graph().as_default():
    return tf_freeze_graph.freeze_graph(**args)


def _assert_same(ours, theirs, helpers, feeds, fetch="out:0"):
  """Same node count and op types as TensorFlow's result, same outputs."""
  assert len(ours.node) == len(theirs.node)
  assert helpers.op_counts(ours) == helpers.op_counts(theirs)
  assert not {"Variable", "VariableV2", "VarHandleOp"} & set(
      helpers.op_counts(ours))
  got = helpers.run_graph(ours, feeds, fetch)
  np.testing.assert_allclose(got, helpers.run_graph(theirs, feeds, fetch),
                             rtol=1e-6)
  return got


_X = np.random.RandomState(1).normal(size=(2, 4)).astype(np.float32)


def _save(tmp_path, use_resource=False, partitions=None, saver_key=None,
          write_version=saver_pb2.SaverDef.V2):
  """x @ w -> out and an assign set_w; saves a checkpoint (step 0, like
  freeze_graph_test; w under `saver_key` if given), the text graph and the
  binary MetaGraph. Returns (checkpoint, out's value, the Saver)."""
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
    partitioner = (tf.compat.v1.fixed_size_partitioner(partitions)
                   if partitions else None)
    with tf.compat.v1.variable_scope("", partitioner=partitioner):
      w = tf.compat.v1.get_variable("w", [4, 3], use_resource=use_resource)
    out = tf.identity(tf.matmul(x, w), name="out")
    tf.compat.v1.assign(w, tf.ones([4, 3]) * 3.0, name="set_w")
    saver = tf.compat.v1.train.Saver({saver_key: w} if saver_key else None,
                                     write_version=write_version)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      checkpoint = saver.save(session, str(tmp_path / "model.ckpt"),
                              global_step=0, latest_filename="state")
      want = session.run(out, {x: _X})
    tf.io.write_graph(graph, str(tmp_path), "graph.pbtxt")
  return checkpoint, want, saver


@pytest.mark.parametrize("version", [saver_pb2.SaverDef.V1,
                                     saver_pb2.SaverDef.V2])
def test_text_graph_with_v1_or_v2_checkpoint(tmp_path, helpers, version):
  checkpoint, want, _ = _save(tmp_path, write_version=version)
  assert os.path.exists(checkpoint + ".index") == (version == 2)
  args = dict(input_graph=str(tmp_path / "graph.pbtxt"), input_binary=False,
              input_checkpoint=checkpoint, checkpoint_version=version)
  ours = freeze.freeze_graph(output_graph=str(tmp_path / "frozen.pb"),
                             output_node_names=["out"], **args)
  got = _assert_same(ours, _tf_freeze(**args), helpers, {"x:0": _X})
  np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("use_resource", [False, True])
def test_meta_graph_alone(tmp_path, helpers, use_resource):
  checkpoint, want, _ = _save(tmp_path, use_resource)
  args = dict(input_meta_graph=checkpoint + ".meta", input_binary=True,
              input_checkpoint=checkpoint)
  ours = freeze.freeze_graph(None, output_graph=str(tmp_path / "frozen.pb"),
                             output_node_names=["out"], **args)
  got = _assert_same(ours, _tf_freeze(**args), helpers, {"x:0": _X})
  np.testing.assert_allclose(got, want, rtol=1e-6)


def test_input_saver_maps_renamed_variables(tmp_path, helpers):
  checkpoint, want, saver = _save(tmp_path, saver_key="renamed/w")
  with pytest.raises(UserError, match="variable w is not in checkpoint"):
    freeze.freeze_graph(str(tmp_path / "graph.pbtxt"), checkpoint,
                        str(tmp_path / "frozen.pb"), ["out"],
                        input_binary=False)
  saver_path = tmp_path / "saver.pbtxt"
  saver_path.write_text(text_format.MessageToString(saver.as_saver_def()))
  args = dict(input_graph=str(tmp_path / "graph.pbtxt"), input_binary=False,
              input_checkpoint=checkpoint, input_saver=str(saver_path))
  ours = freeze.freeze_graph(output_graph=str(tmp_path / "frozen.pb"),
                             output_node_names=["out"], **args)
  got = _assert_same(ours, _tf_freeze(**args), helpers, {"x:0": _X})
  np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("source", ["meta_graph", "graph"])
def test_initializer_nodes_values_are_frozen(tmp_path, helpers, source):
  checkpoint, want, _ = _save(tmp_path)
  args = (dict(input_graph=None, input_meta_graph=checkpoint + ".meta",
               input_binary=True)
          if source == "meta_graph" else
          dict(input_graph=str(tmp_path / "graph.pbtxt"), input_binary=False))
  args.update(input_checkpoint=checkpoint, initializer_nodes="set_w")
  ours = freeze.freeze_graph(output_graph=str(tmp_path / "frozen.pb"),
                             output_node_names=["out"],
                             **dict(args, initializer_nodes=["set_w"]))
  got = _assert_same(ours, _tf_freeze(**args), helpers, {"x:0": _X})
  np.testing.assert_allclose(got, _X @ np.full((4, 3), 3.0), rtol=1e-6)
  assert not np.allclose(got, want)


def _partitioned_saved_model(tmp_path, use_resource):
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
    with tf.compat.v1.variable_scope(
        "", partitioner=tf.compat.v1.fixed_size_partitioner(2)):
      w = tf.compat.v1.get_variable("w", [4, 3], use_resource=use_resource)
    out = tf.identity(tf.matmul(x, w), name="out")
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      want = session.run(out, {x: _X})
      builder = tf.compat.v1.saved_model.Builder(str(tmp_path / "sm"))
      builder.add_meta_graph_and_variables(session, ["serve"])
      builder.save()
  return want


@pytest.mark.parametrize("use_resource", [False, True])
def test_partitioned_variables(tmp_path, helpers, use_resource):
  checkpoint, want, _ = _save(tmp_path, use_resource, partitions=2)
  # A GraphDef alone does not say which slice a part holds; TensorFlow
  # refuses it too and names the SavedModel, we name all three ways.
  with pytest.raises(UserError, match="slice of partitioned variable w"):
    freeze.freeze_graph(str(tmp_path / "graph.pbtxt"), checkpoint,
                        str(tmp_path / "frozen.pb"), ["out"],
                        input_binary=False)
  if not use_resource:
    with pytest.raises(ValueError, match="partition variables"):
      _tf_freeze(input_graph=str(tmp_path / "graph.pbtxt"),
                 input_checkpoint=checkpoint)
  args = dict(input_meta_graph=checkpoint + ".meta", input_binary=True,
              input_checkpoint=checkpoint)
  ours = freeze.freeze_graph(None, output_graph=str(tmp_path / "frozen.pb"),
                             output_node_names=["out"], **args)
  assert {"w/part_0", "w/part_1"} <= {n.name for n in ours.node}
  got = _assert_same(ours, _tf_freeze(**args), helpers, {"x:0": _X})
  np.testing.assert_allclose(got, want, rtol=1e-6)
  want = _partitioned_saved_model(tmp_path, use_resource)
  args = dict(input_saved_model_dir=str(tmp_path / "sm"))
  ours = freeze.freeze_graph(None, None, str(tmp_path / "frozen.pb"),
                             ["out"], **args)
  got = _assert_same(ours, _tf_freeze(**args), helpers, {"x:0": _X})
  np.testing.assert_allclose(got, want, rtol=1e-6)


def _dummy_saved_model(path, tags, as_text, main_op=False):
  """freeze_graph_test's classifier: tf.Examples in, variable * feature out."""
  graph = tf.Graph()
  with graph.as_default():
    examples = tf.compat.v1.placeholder(tf.string, name="input_node")
    feature = tf.compat.v1.io.parse_example(
        examples, {"feature": tf.io.FixedLenFeature([], tf.float32)}
    )["feature"]
    variable = tf.compat.v1.Variable(1.0, name="variable_node")
    scores = tf.multiply(variable, feature, name="output_node")
    classes = tf.transpose(tf.fill(tf.shape(feature), "class_feature"))
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      signature = tf.compat.v1.saved_model.classification_signature_def(
          examples=examples, classes=classes, scores=scores)
      builder = tf.compat.v1.saved_model.Builder(path)
      builder.add_meta_graph_and_variables(
          session, tags, signature_def_map={"serving_default": signature},
          main_op=tf.group(variable.assign(4.0)) if main_op else None)
      builder.save(as_text=as_text)


def _example(value):
  example = tf.train.Example()
  example.features.feature["feature"].float_list.value.append(value)
  return example.SerializeToString()


@pytest.mark.parametrize("tags", ["", "serve"])
@pytest.mark.parametrize("as_text", [True, False])
def test_saved_model(tmp_path, helpers, tags, as_text):
  saved_model = str(tmp_path / "saved_model_dir")
  _dummy_saved_model(saved_model, [t for t in tags.split(",") if t], as_text)
  assert os.path.exists(os.path.join(
      saved_model, "saved_model.pbtxt" if as_text else "saved_model.pb"))
  ours = freeze.freeze_graph(None, None, str(tmp_path / "frozen.pb"),
                             ["output_node"], input_saved_model_dir=saved_model,
                             saved_model_tags=tags.split(","))
  theirs = _tf_freeze(input_saved_model_dir=saved_model, saved_model_tags=tags,
                      output_node_names="output_node", input_checkpoint=None)
  got = _assert_same(ours, theirs, helpers, {"input_node:0": [_example(2.0)]},
                     "output_node:0")
  np.testing.assert_allclose(got, [2.0])


def test_saved_model_init_op_runs(tmp_path, helpers):
  saved_model = str(tmp_path / "sm")
  _dummy_saved_model(saved_model, ["serve"], False, main_op=True)
  ours = freeze.freeze_graph(None, None, str(tmp_path / "frozen.pb"),
                             ["output_node"], input_saved_model_dir=saved_model)
  theirs = _tf_freeze(input_saved_model_dir=saved_model,
                      output_node_names="output_node", input_checkpoint=None)
  got = _assert_same(ours, theirs, helpers, {"input_node:0": [_example(2.0)]},
                     "output_node:0")
  np.testing.assert_allclose(got, [8.0])


def test_refusals_name_the_flag(tmp_path):
  checkpoint, _, saver = _save(tmp_path)
  graph, meta = str(tmp_path / "graph.pbtxt"), checkpoint + ".meta"
  (tmp_path / "saver.pbtxt").write_text(
      text_format.MessageToString(saver.as_saver_def()))
  _dummy_saved_model(str(tmp_path / "sm"), ["serve"], False)
  out = str(tmp_path / "frozen.pb")
  cases = [
      (dict(input_graph=graph, input_meta_graph=meta), "exactly one of"),
      (dict(input_graph=None), "exactly one of"),
      (dict(input_graph=graph, checkpoint_version=3), "not 1 or 2"),
      (dict(input_graph=None, input_saved_model_dir=str(tmp_path / "sm")),
       "--input_checkpoint is not used with --input_saved_model_dir"),
      (dict(input_graph=None, input_checkpoint=None,
            input_saved_model_dir=str(tmp_path / "sm"),
            saved_model_tags=["train"]), "no MetaGraph tagged train"),
      (dict(input_graph=None, input_checkpoint=None,
            input_saved_model_dir=str(tmp_path / "nothing")),
       "pass a SavedModel directory"),
      (dict(input_graph=graph, input_saver=str(tmp_path / "saver.pbtxt"),
            initializer_nodes=["set_w"]),
       "--initializer_nodes is not used with --input_saver"),
      (dict(input_graph=None, input_meta_graph=meta,
            input_saver=str(tmp_path / "saver.pbtxt")),
       "--input_saver is not used with --input_meta_graph"),
      (dict(input_graph=None, input_meta_graph=meta, input_binary=False),
       "pass --input_binary=true"),
      (dict(input_graph=graph, initializer_nodes=["nope"]),
       "initializer node 'nope'"),
  ]
  for kwargs, message in cases:
    args = dict(input_graph=graph, input_checkpoint=checkpoint,
                output_graph=out, output_node_names=["out"],
                input_binary=False)
    args.update(kwargs)
    with pytest.raises(UserError, match=re.escape(message)) as info:
      freeze.freeze_graph(**args)
    assert "\n" not in str(info.value), kwargs
  assert not os.path.exists(out)


def test_command_line_flags(tool, tmp_path):
  checkpoint, _, _ = _save(tmp_path)
  tool("freeze", f"--input_meta_graph={checkpoint}.meta", "--input_binary",
       f"--input_checkpoint={checkpoint}", "--checkpoint_version=2",
       f"--output_graph={tmp_path}/frozen.pb", "--output_node_names=out",
       "--variable_names_denylist=w")
  ops = {n.name: n.op for n in
         graph_io.load_graph_def(str(tmp_path / "frozen.pb")).node}
  assert ops["w"] == "VariableV2"
  _dummy_saved_model(str(tmp_path / "sm"), [], True)
  tool("freeze", f"--input_saved_model_dir={tmp_path}/sm",
       "--saved_model_tags=", f"--output_graph={tmp_path}/sm.pb",
       "--output_node_names=output_node")
  ops = {n.name: n.op for n in
         graph_io.load_graph_def(str(tmp_path / "sm.pb")).node}
  assert ops["variable_node"] == "Const"
