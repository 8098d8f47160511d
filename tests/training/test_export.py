"""Export: the inference graph's node names, and the same outputs as EVAL mode."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.tools import freeze_graph

from alexnet.estimator import checkpoints

from alexnet.serving import export
from alexnet.core.errors import UserError
from alexnet.estimator.model_dir import load_model_config
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn
from alexnet.serving.predictor import Predictor


def _export_dir(model_dir):
  return os.path.join(model_dir, export.EXPORT_DIR)


def test_export_files(exported_model):
  names = set(os.listdir(_export_dir(exported_model)))
  assert {"inference_graph.pb", "inference_graph.pbtxt", "checkpoint",
          "model.ckpt.index", "saved_model", "model_config.json",
          "export.json"} <= names
  with open(os.path.join(_export_dir(exported_model), "export.json")) as f:
    assert json.load(f)["checkpoint"] == checkpoints.latest(exported_model)


def test_inference_graph_node_names(exported_model, tiny):
  graph_def = tf.compat.v1.GraphDef()
  with open(os.path.join(_export_dir(exported_model),
                         "inference_graph.pb"), "rb") as f:
    graph_def.ParseFromString(f.read())
  nodes = {n.name: n for n in graph_def.node}
  placeholder = nodes["input"]
  assert placeholder.op == "Placeholder"
  assert placeholder.attr["dtype"].type == tf.float32.as_datatype_enum
  dims = [d.size for d in placeholder.attr["shape"].shape.dim]
  assert dims == [-1, tiny.image_size, tiny.image_size, 3]
  assert nodes["probabilities"].op == "Softmax"
  assert nodes["classes"].op == "ArgMax"
  assert nodes["logits"].op == "Identity"
  assert [n for n in nodes.values() if n.op == "Placeholder"] == [placeholder]
  for part in ("Adam", "global_step", "gradients", "dropout", "save/",
               "Iterator"):
    assert not [n for n in nodes if part in n], part


def _eval_mode_probabilities(model_dir, checkpoint_path, images):
  config = load_model_config(model_dir)
  with tf.Graph().as_default():
    features = tf.compat.v1.placeholder(tf.float32, images.shape)
    labels = tf.compat.v1.placeholder(tf.int64, [len(images)])
    spec = model_fn(features, labels, ModeKeys.EVAL, Params(config))
    with tf.compat.v1.Session() as sess:
      checkpoints.restore(sess, checkpoint_path)
      return sess.run(spec.predictions["probabilities"], {features: images})


def test_frozen_export_equals_eval_mode(exported_model, tiny, tmp_path):
  images = np.random.RandomState(5).uniform(
      0, 255, [3, tiny.image_size, tiny.image_size, 3]).astype(np.float32)
  expected = _eval_mode_probabilities(
      exported_model, checkpoints.latest(exported_model), images)

  # TensorFlow's own freeze_graph, on exactly the exported pair.
  export_dir = _export_dir(exported_model)
  frozen = freeze_graph.freeze_graph(
      input_graph=os.path.join(export_dir, "inference_graph.pb"),
      input_saver="", input_binary=True,
      input_checkpoint=os.path.join(export_dir, "model.ckpt"),
      output_node_names="probabilities,classes,logits", restore_op_name="",
      filename_tensor_name="", output_graph=str(tmp_path / "frozen.pb"),
      clear_devices=True, initializer_nodes="")
  with tf.Graph().as_default() as graph:
    tf.graph_util.import_graph_def(frozen, name="")
    with tf.compat.v1.Session() as sess:
      probabilities, classes = sess.run(
          ["probabilities:0", "classes:0"], {"input:0": images})
  assert not [n for n in graph.get_operations()
              if n.type in ("VarHandleOp", "VariableV2")]
  np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(classes, expected.argmax(axis=1))

  predictor = Predictor(os.path.join(export_dir, "saved_model"))
  try:
    assert predictor.image_size == tiny.image_size
    from_saved_model = predictor.probabilities(images.astype(np.uint8))
  finally:
    predictor.close()
  assert from_saved_model.shape == expected.shape


def test_export_tool(model_dir_link, tool):
  proc = tool("export", f"--model_dir={model_dir_link}", "--checkpoint=latest")
  assert f"wrote {model_dir_link}/export" in proc.stdout
  saved_model = os.path.join(model_dir_link, "export", "saved_model")
  assert tf.saved_model.contains_saved_model(saved_model)
  assert os.path.exists(os.path.join(saved_model, "assets.extra",
                                     "model_config.json"))


def test_export_without_best_or_any_checkpoint(model_dir_link, tmp_path):
  # Linked model_dir has a latest checkpoint but no best/.
  with pytest.raises(UserError, match="no best/ checkpoint .* "
                     "--checkpoint=latest"):
    export.export(model_dir_link, "best")
  empty = tmp_path / "untrained"
  empty.mkdir()
  shutil.copy(os.path.join(model_dir_link, "model_config.json"), empty)
  with pytest.raises(UserError, match="has no checkpoint: train into it"):
    export.export(str(empty), "latest")
  with pytest.raises(UserError, match="model_config.json not found"):
    export.export(str(tmp_path), "latest")
