"""checkpoints.restore: plain variables, or their moving averages when saved."""

import numpy as np
import tensorflow as tf

from alexnet.estimator import checkpoints


def _save(path, values):
  """A checkpoint holding {name: value}."""
  with tf.Graph().as_default():
    variables = [tf.compat.v1.Variable(v, name=n) for n, v in values.items()]
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      tf.compat.v1.train.Saver(variables).save(sess, path)


def _restore(path, names):
  with tf.Graph().as_default():
    variables = [tf.compat.v1.Variable(np.zeros(2, np.float32), name=n)
                 for n in names]
    with tf.compat.v1.Session() as sess:
      checkpoints.restore(sess, path)
      return dict(zip(names, sess.run(variables)))


def _values(**values):
  return {n.replace("__", "/"): np.full(2, v, np.float32)
          for n, v in values.items()}


def test_plain_checkpoint_restores_the_variables(tmp_path):
  path = str(tmp_path / "model.ckpt")
  _save(path, _values(a=1.0, b=2.0))
  restored = _restore(path, ["a", "b"])
  np.testing.assert_array_equal(restored["a"], [1.0, 1.0])
  np.testing.assert_array_equal(restored["b"], [2.0, 2.0])


def test_moving_averages_are_restored_when_each_variable_has_one(tmp_path):
  path = str(tmp_path / "model.ckpt")
  _save(path, _values(a=1.0, a__ExponentialMovingAverage=3.0,
                      b=2.0, b__ExponentialMovingAverage=4.0))
  restored = _restore(path, ["a", "b"])
  np.testing.assert_array_equal(restored["a"], [3.0, 3.0])
  np.testing.assert_array_equal(restored["b"], [4.0, 4.0])


def test_partial_averages_restore_the_variables(tmp_path):
  path = str(tmp_path / "model.ckpt")
  _save(path, _values(a=1.0, a__ExponentialMovingAverage=3.0, b=2.0))
  restored = _restore(path, ["a", "b"])
  np.testing.assert_array_equal(restored["a"], [1.0, 1.0])
  np.testing.assert_array_equal(restored["b"], [2.0, 2.0])
  assert checkpoints.averaged_names(path) == ["a"]
