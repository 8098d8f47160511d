"""Issue 28's training options: the class-weighted cross-entropy, and a few
steps with every option on, whose export is the plain inference graph."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.config import ModelConfig, TrainConfig
from alexnet.core.errors import UserError
from alexnet.datasets import preprocessing
from alexnet.estimator import model_dir as model_dir_lib
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn
from alexnet.serving import export
from alexnet.training import trainer
from tests import builders

_ALL_AUGMENTATIONS = {f"augment_{name}": True
                      for name in preprocessing.EXTRA_AUGMENTATIONS}


def test_class_weights_scale_each_images_training_cross_entropy():
  labels = np.array([0, 1, 2, 1])
  weights = (0.5, 2.0, 1.0)
  with tf.Graph().as_default():
    images = tf.constant(np.random.RandomState(0).uniform(
        0, 255, [4, 67, 67, 3]).astype(np.float32))
    model = ModelConfig(image_size=67, num_classes=3, fc_units=16)
    train = TrainConfig(dropout_rate=0.0)
    weighted = model_fn(images, tf.constant(labels), ModeKeys.TRAIN,
                        Params(model, train, class_weights=weights))
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      logits, cross_entropy = sess.run([weighted.predictions["logits"],
                                        weighted.scalars["cross_entropy"]])
  log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
  per_image = -log_softmax[np.arange(4), labels]
  assert cross_entropy == pytest.approx(
      (np.take(weights, labels) * per_image).mean(), rel=1e-4)
  assert cross_entropy != pytest.approx(per_image.mean(), rel=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("balance", ["sampling", "loss"])
def test_a_few_steps_with_every_option_on(tmp_path, balance):
  data = builders.build_dataset(tmp_path / "data", builders.IMBALANCED)
  tiny = builders.IMBALANCED
  model_dir = str(tmp_path / "run")
  step = trainer.train(data["tfrecords"], model_dir, tiny.model,
                       tiny.train.replace(
                           max_steps=2, augment=True, augment_color=True,
                           class_balance=balance, **_ALL_AUGMENTATIONS))
  assert step == 2
  # The export depends on the ModelConfig alone: the same inference graph
  # as a model trained without the options.
  export_dir = export.export(model_dir, "latest")
  graph_def = tf.compat.v1.GraphDef()
  with open(f"{export_dir}/{export.INFERENCE_GRAPH}", "rb") as f:
    graph_def.ParseFromString(f.read())
  plain = model_dir_lib.load_model_config(model_dir)
  assert plain.replace(num_classes=tiny.model.num_classes,
                       class_names=()) == tiny.model
  expected, _, _ = export.build_inference_graph(plain)
  assert graph_def == expected.as_graph_def()
  ops = {node.op for node in graph_def.node}
  assert not ops & {"ImageProjectiveTransformV3", "Einsum",
                    "RandomUniform"}


def test_a_bad_class_balance_is_one_line():
  with pytest.raises(UserError, match="--class_balance=oversample is not "
                     "one of none, sampling, loss") as info:
    TrainConfig(class_balance="oversample")
  assert "\n" not in str(info.value)


@pytest.mark.slow
def test_the_spatial_transformer_trains_and_is_recorded(
    pattern_model_transformed):
  """Training moves the localization network off its identity start (the
  gradient reaches it through the sampler), and model_config.json says the
  model has a transformer, so evaluation and export build it."""
  assert model_dir_lib.load_model_config(
      pattern_model_transformed).spatial_transformer
  reader = tf.train.load_checkpoint(
      tf.train.latest_checkpoint(pattern_model_transformed))
  weights = reader.get_tensor("alexnet/spatial_transformer/loc_fc2/weights")
  assert np.abs(weights).max() > 0
  assert reader.has_tensor("alexnet/spatial_transformer/loc_conv1/weights")
