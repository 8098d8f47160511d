"""A committee of trained models exported as one inference graph.

Ciresan et al. 2012 (multi-column DNN) average the class probabilities of
independently trained networks ("columns"), each on its own preprocessing
of the image. `export_committee` writes such a committee in the layout of
alexnet.serving.export, so freezing, transforming, converting (int8 with
its representative data too), comparing and predicting take it as they
take one model:

  input          the one placeholder, as a single model's: float32
                 [None, S, S, 3], raw RGB 0..255
  column<i>/...  column i's network, built from its own model_config.json
                 (its input standardization, normalization, fc_units), its
                 variables restored from its own checkpoint
  probabilities  the mean of the columns' softmax outputs
  logits         log(probabilities): its softmax gives them back (-inf
                 where every column's softmax underflows to 0)
  classes        argmax of probabilities

Every column must take the same input and give the same classes (image
size, crop_roi, class names); each is a float model (a quantization-aware
one's rewrite would reach into the other columns). export.json lists each
column's model_dir, checkpoint, step and config; the SavedModel carries the
first column's model_config.json (for the class names, the same in all).
"""

import os

import tensorflow as tf
from tqdm import tqdm

from alexnet.core.errors import UserError
from alexnet.estimator import checkpoints
from alexnet.estimator import model_dir as model_dir_lib
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn
from alexnet.nets import alexnet as alexnet_lib
from alexnet.serving import export

# What the committee's input and output are: every column must agree on them.
_SHARED = ("image_size", "num_classes", "crop_roi")


def _check_columns(model_dirs, models):
  """UserError naming the model_dirs unless the columns can form one model."""
  if not model_dirs:
    raise UserError("a committee needs at least one --model_dir")
  for model_dir, model in zip(model_dirs, models):
    if model.fake_quant:
      raise UserError(f"{model_dir} was trained quantization-aware: a "
                      "committee takes float models (export it alone)")
  first_dir, first = model_dirs[0], models[0]
  for model_dir, model in zip(model_dirs[1:], models[1:]):
    for key in _SHARED:
      if getattr(model, key) != getattr(first, key):
        raise UserError(
            f"committee columns {first_dir} and {model_dir} differ in {key} "
            f"({getattr(first, key)} and {getattr(model, key)}): every column "
            "must take the same input and give the same classes")
    if model.class_names != first.class_names:
      raise UserError(
          f"committee columns {first_dir} and {model_dir} have different "
          "class_names (trained on other datasets): every column must give "
          "the same classes")


def _checkpoint_paths(model_dirs, checkpoint):
  """Each column's checkpoint: "best"/"latest" for all, or one path each."""
  if checkpoint in checkpoints.CHOICES:
    checkpoint = [checkpoint] * len(model_dirs)
  elif isinstance(checkpoint, str):
    checkpoint = [checkpoint]
  if len(checkpoint) != len(model_dirs):
    raise UserError(f"--checkpoint={','.join(checkpoint)} names "
                    f"{len(checkpoint)} checkpoints for {len(model_dirs)} "
                    "model_dirs: pass best, latest or one path per model_dir")
  return [checkpoints.resolve(d, c) for d, c in zip(model_dirs, checkpoint)]


def committee_outputs(probabilities):
  """The deployed outputs of a committee: {"logits", "probabilities",
  "classes"} from its columns' probabilities. At the top level of a graph,
  as alexnet.nets.alexnet.inference_outputs."""
  # PACK and MEAN, unlike ADD_N, have int8 TFLite kernels.
  mean = tf.reduce_mean(tf.stack(probabilities), axis=0,
                        name=alexnet_lib.PROBABILITIES_NODE)
  return {
      alexnet_lib.LOGITS_NODE: tf.math.log(mean, name=alexnet_lib.LOGITS_NODE),
      alexnet_lib.PROBABILITIES_NODE: mean,
      alexnet_lib.CLASSES_NODE: tf.argmax(
          mean, axis=1, output_type=tf.int64, name=alexnet_lib.CLASSES_NODE),
  }


def build_committee_graph(models):
  """(graph, input placeholder, {name: output tensor}, columns) of the
  PREDICT mode of ModelConfigs sharing an image size; columns[i] maps the
  checkpoint name of each of column i's variables (that of a single model)
  to the variable."""
  graph = tf.Graph()
  columns = []
  with graph.as_default():
    images = alexnet_lib.input_placeholder(models[0].image_size)
    probabilities = []
    for i, model in enumerate(models):
      with tf.compat.v1.variable_scope(
          f"{alexnet_lib.COLUMN_SCOPE}{i}") as scope:
        first = len(tf.compat.v1.global_variables())
        spec = model_fn(images, None, ModeKeys.PREDICT, Params(model))
      probabilities.append(spec.predictions[alexnet_lib.PROBABILITIES_NODE])
      prefix = scope.name + "/"
      columns.append({v.op.name[len(prefix):]: v
                      for v in tf.compat.v1.global_variables()[first:]})
    outputs = committee_outputs(probabilities)
  return graph, images, outputs, columns


def export_committee(model_dirs, export_dir, checkpoint="best"):
  """Writes export_dir (replacing it): the committee of the models in
  model_dirs as one inference graph and checkpoint (module docstring).

  Args:
    model_dirs: directories written by training, one per column.
    export_dir: the directory to write.
    checkpoint: "best" or "latest" for every column, or a list of one
      checkpoint path prefix per model_dir.

  Returns:
    export_dir.
  """
  model_dirs = list(model_dirs)
  models = [model_dir_lib.load_model_config(d) for d in model_dirs]
  _check_columns(model_dirs, models)
  paths = _checkpoint_paths(model_dirs, checkpoint)
  graph, images, outputs, columns = build_committee_graph(models)

  def restore(sess):
    for path, variables in tqdm(list(zip(paths, columns)), desc="columns",
                                unit="column"):
      checkpoints.restore(sess, path, variables)

  record = {"columns": [
      {"model_dir": os.path.abspath(d), "checkpoint": os.path.abspath(p),
       "step": checkpoints.global_step(p), "model_config": m.to_dict()}
      for d, p, m in zip(model_dirs, paths, models)]}
  export.write(export_dir, graph, images, outputs, restore, record,
               model_dir_lib.config_path(model_dirs[0]))
  return export_dir
