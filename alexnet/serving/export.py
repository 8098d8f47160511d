"""Exports a model for deployment: inference graph + checkpoint, SavedModel.

model_dir/export/ (or another export_dir; alexnet.serving.committee writes a
committee's in the same layout)
  inference_graph.pb, .pbtxt   the PREDICT graph: `input` placeholder
                               [None, S, S, 3] raw RGB 0..255 -> `logits`,
                               `probabilities`, `classes`; no training ops
  model.ckpt.*                 the model variables it pairs with
  saved_model/                 SavedModel, tag "serve", signature
                               serving_default: input -> probabilities,
                               classes, logits; assets.extra/model_config.json
  model_config.json, export.json  the model's config; the source checkpoint

The first two are exactly what freeze_graph takes:
  --input_graph=export/inference_graph.pb --input_binary=true
  --input_checkpoint=export/model.ckpt --output_node_names=probabilities
"""

import json
import os
import shutil

import tensorflow as tf

from alexnet.core.atomic_files import atomic_dir, atomic_write
from alexnet.estimator import checkpoints
from alexnet.estimator import model_dir as model_dir_lib
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn
from alexnet.nets import alexnet as alexnet_lib

EXPORT_DIR = "export"
GRAPH_NAME = "inference_graph"
INFERENCE_GRAPH = GRAPH_NAME + ".pb"  # In the export directory.
CHECKPOINT = checkpoints.PREFIX  # Its checkpoint prefix there.
SAVED_MODEL_DIR = "saved_model"
SERVING_KEY = "serving_default"
TAGS = (tf.saved_model.SERVING,)


def build_inference_graph(model):
  """(graph, input placeholder, {name: output tensor}) of the PREDICT mode of
  a ModelConfig."""
  graph = tf.Graph()
  with graph.as_default():
    images = alexnet_lib.input_placeholder(model.image_size)
    spec = model_fn(images, None, ModeKeys.PREDICT, Params(model))
  return graph, images, spec.predictions


def export(model_dir, checkpoint="best", export_dir=None):
  """Writes model_dir/export/ (or export_dir; replacing it) from
  `checkpoint`.

  Args:
    model_dir: a directory written by training.
    checkpoint: "best", "latest" or a checkpoint path prefix.
    export_dir: where to write (default: model_dir/export).

  Returns:
    The export directory.
  """
  model = model_dir_lib.load_model_config(model_dir)
  checkpoint_path = checkpoints.resolve(model_dir, checkpoint)
  export_dir = export_dir or os.path.join(model_dir, EXPORT_DIR)
  graph, images, outputs = build_inference_graph(model)
  config = model_dir_lib.config_path(model_dir)
  write(export_dir, graph, images, outputs,
        lambda sess: checkpoints.restore(sess, checkpoint_path),
        {"checkpoint": os.path.abspath(checkpoint_path),
         "step": checkpoints.global_step(checkpoint_path)},
        config, files=(config,))
  return export_dir


def write(export_dir, graph, images, outputs, restore, record, assets,
          files=()):
  """Writes export_dir (replacing it) from an inference graph.

  Args:
    export_dir: the directory to write.
    graph, images, outputs: the graph, its input placeholder and its
      {name: output tensor}, with no Saver yet.
    restore: restore(session) gives the graph's variables their values
      (it may add restore ops: the graph is written before).
    record: what export.json says about the source checkpoints.
    assets: the model_config.json the SavedModel carries in assets.extra
      (the predictor reads the class names from it).
    files: copied into export_dir as they are.
  """
  # Written before any Saver exists, so it holds no save/restore ops either.
  graph_def = graph.as_graph_def()
  with atomic_dir(export_dir, overwrite=True) as tmp:
    tf.io.write_graph(graph_def, tmp, INFERENCE_GRAPH, as_text=False)
    tf.io.write_graph(graph_def, tmp, GRAPH_NAME + ".pbtxt", as_text=True)
    with graph.as_default(), tf.compat.v1.Session() as sess:
      restore(sess)
      checkpoints.save(sess, tmp)
      builder = tf.compat.v1.saved_model.Builder(
          os.path.join(tmp, SAVED_MODEL_DIR))
      signature = tf.compat.v1.saved_model.predict_signature_def(
          inputs={alexnet_lib.INPUT_NODE: images}, outputs=outputs)
      builder.add_meta_graph_and_variables(
          sess, list(TAGS), signature_def_map={SERVING_KEY: signature},
          strip_default_attrs=True)
      builder.save()
    extra = os.path.join(tmp, SAVED_MODEL_DIR, "assets.extra")
    os.makedirs(extra)
    shutil.copy(assets, os.path.join(extra, model_dir_lib.CONFIG_NAME))
    for path in files:
      shutil.copy(path, tmp)
    atomic_write(os.path.join(tmp, "export.json"),
                 json.dumps(record, indent=2) + "\n")
