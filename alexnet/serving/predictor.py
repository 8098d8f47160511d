"""Top-k predictions of an exported SavedModel for image files of any size."""

import os

import numpy as np
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.datasets import preprocessing
from alexnet.datasets import signnames
from alexnet.estimator import model_dir as model_dir_lib
from alexnet.serving.export import SERVING_KEY, TAGS


def _class_names(saved_model_dir, num_classes):
  """From the SavedModel's assets.extra/model_config.json, else GTSRB's."""
  path = os.path.join(saved_model_dir, "assets.extra", model_dir_lib.CONFIG_NAME)
  if os.path.exists(path):
    return list(model_dir_lib.read_model_config(path).class_names)
  return signnames.class_names(num_classes)


class Predictor:
  """A SavedModel (tools/export.py) loaded in its own graph and session."""

  def __init__(self, saved_model_dir):
    if not tf.saved_model.contains_saved_model(saved_model_dir):
      raise UserError(f"{saved_model_dir} holds no SavedModel: pass "
                      "MODEL_DIR/export/saved_model (tools/export.py writes "
                      "it)")
    self._graph = tf.Graph()
    self._sess = tf.compat.v1.Session(graph=self._graph)
    with self._graph.as_default():
      meta = tf.compat.v1.saved_model.loader.load(
          self._sess, list(TAGS), saved_model_dir)
      signature = meta.signature_def[SERVING_KEY]
      self._input = self._graph.get_tensor_by_name(
          next(iter(signature.inputs.values())).name)
      self._outputs = {k: self._graph.get_tensor_by_name(v.name)
                       for k, v in signature.outputs.items()}
      self.image_size = self._input.shape[1]
      # The evaluation resize, so predictions match the evaluated accuracy.
      self._raw = tf.compat.v1.placeholder(tf.uint8, [None, None, 3])
      self._resized = preprocessing.preprocess(self._raw, self.image_size)
    self.class_names = _class_names(
        saved_model_dir, self._outputs["probabilities"].shape[-1])

  def probabilities(self, images):
    """Class probabilities [N, C] of uint8 RGB images of any sizes."""
    batch = np.stack([self._sess.run(self._resized, {self._raw: image})
                      for image in images])
    return self._sess.run(self._outputs["probabilities"], {self._input: batch})

  def close(self):
    self._sess.close()


def top_k(probabilities, class_names, k=5):
  """[(class id, name, probability)] of the k most probable classes."""
  order = np.argsort(-probabilities, kind="stable")[:k]
  return [(int(i), class_names[i], float(probabilities[i])) for i in order]
