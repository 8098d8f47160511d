"""model_fn: the modes' specs, learning-rate schedules, batch-norm updates,
moving averages."""

import math

import numpy as np
import pytest
import tensorflow as tf

from alexnet.estimator import checkpoints
from alexnet.core.errors import UserError
from alexnet.core.config import ModelConfig, TrainConfig
from alexnet.estimator.model_fn import (ModeKeys, Params, Schedule,
                                        learning_rate_fn, model_fn)


def _rates(schedule, steps, **train):
  with tf.Graph().as_default():
    step = tf.compat.v1.placeholder(tf.int64, [])
    lr = learning_rate_fn(step, TrainConfig(**train), schedule)
    with tf.compat.v1.Session() as sess:
      return [sess.run(lr, {step: s}) for s in steps]


def test_learning_rate_schedules():
  base = Schedule(warmup_steps=0, total_steps=100, decay_steps=10)
  train = {"learning_rate": 0.1, "decay_rate": 0.5}
  assert _rates(base, [0, 99], lr_schedule="constant",
                **train) == pytest.approx([0.1, 0.1])
  cosine = _rates(base, [0, 50, 100], lr_schedule="cosine", **train)
  assert cosine == pytest.approx([0.1, 0.05, 0.0], abs=1e-6)
  step = _rates(base, [9, 10, 25], lr_schedule="step", **train)
  assert step == pytest.approx([0.1, 0.05, 0.025])
  warm = _rates(Schedule(warmup_steps=10, total_steps=100), [0, 4, 9, 10, 55],
                lr_schedule="cosine", **train)
  assert warm[:3] == pytest.approx([0.01, 0.05, 0.1])
  # Cosine runs over the 90 steps after the warm-up.
  assert warm[3] == pytest.approx(0.1)
  assert warm[4] == pytest.approx(0.05 * (1 + math.cos(math.pi * 45 / 90)))
  with pytest.raises(UserError,
                     match="--lr_schedule=linear is not one of constant"):
    _rates(base, [0], lr_schedule="linear")


def _spec(mode, normalization="lrn", **train):
  images = tf.constant(np.random.RandomState(0).uniform(
      0, 255, [4, 67, 67, 3]).astype(np.float32))
  labels = tf.constant([0, 1, 2, 1], tf.int64)
  model = ModelConfig(image_size=67, num_classes=5,
                      normalization=normalization)
  return model_fn(images, labels, mode, Params(model, TrainConfig(**train)))


def test_specs_per_mode():
  with tf.Graph().as_default():
    spec = _spec(ModeKeys.PREDICT)
    assert spec.loss is None and spec.train_op is None
    assert set(spec.predictions) == {"logits", "probabilities", "classes"}
  with tf.Graph().as_default():
    spec = _spec(ModeKeys.EVAL)
    assert spec.train_op is None
    assert set(spec.eval_metric_ops) == {"accuracy", "cross_entropy"}
    assert tf.compat.v1.train.get_global_step() is None
  with tf.Graph().as_default():
    spec = _spec(ModeKeys.TRAIN, label_smoothing=0.1)
    assert spec.train_op is not None
    assert set(spec.scalars) == {"loss", "cross_entropy", "accuracy",
                                 "learning_rate"}


def test_batch_norm_training_updates_moving_statistics():
  with tf.Graph().as_default():
    spec = _spec(ModeKeys.TRAIN, normalization="batch_norm")
    mean = next(v for v in tf.compat.v1.global_variables()
                if v.op.name == "alexnet/conv1/BatchNorm/moving_mean")
    step = tf.compat.v1.train.get_global_step()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      before = sess.run(mean)
      losses = [sess.run([spec.train_op, spec.loss])[1] for _ in range(3)]
      after, steps = sess.run([mean, step])
  assert steps == 3
  assert not np.allclose(before, after)
  assert np.isfinite(losses).all()


def test_moving_averages_follow_each_step():
  with tf.Graph().as_default():
    spec = _spec(ModeKeys.TRAIN, normalization="batch_norm",
                 moving_average_decay=0.9)
    variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
    network = [n for n in variables if n.startswith("alexnet/")
               and not n.endswith(checkpoints.MOVING_AVERAGE)
               and "Adam" not in n]
    # Every network variable, batch-norm statistics included, has an average.
    assert "alexnet/conv1/BatchNorm/moving_mean" in network
    averages = [f"{n}/{checkpoints.MOVING_AVERAGE}" for n in network]
    assert set(averages) <= set(variables)
    weights = variables["alexnet/fc8/weights"]
    average = variables[f"alexnet/fc8/weights/{checkpoints.MOVING_AVERAGE}"]
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      initial = sess.run(weights)
      np.testing.assert_array_equal(sess.run(average), initial)
      sess.run(spec.train_op)
      trained, averaged = sess.run([weights, average])
  # After step 1 the decay is min(0.9, (1 + 1) / (10 + 1)), from num_updates.
  decay = 2 / 11
  assert not np.allclose(trained, initial)
  np.testing.assert_allclose(averaged, decay * initial + (1 - decay) * trained,
                             rtol=1e-5, atol=1e-7)


def test_no_moving_averages_by_default():
  with tf.Graph().as_default():
    _spec(ModeKeys.TRAIN)
    assert not [v for v in tf.compat.v1.global_variables()
                if checkpoints.MOVING_AVERAGE in v.op.name]
