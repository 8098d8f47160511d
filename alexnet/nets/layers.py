"""The layers the networks are built from: tf.nn ops on tf.compat.v1
variables (tf.compat.v1.layers fails under Keras 3).

Variables are reference (VariableV2) variables, as in TF1: TensorFlow's
freeze_graph freezes them from a plain GraphDef + checkpoint, which it
cannot do for resource variables. Weight decay is an L2 penalty on weights
(not biases) in the REGULARIZATION_LOSSES collection. Batch normalization
is written with tf.nn.fused_batch_norm, so a frozen graph has the
Conv2D -> FusedBatchNormV3 pairs that the fold_batch_norms transform folds;
training updates its moving mean and variance through the UPDATE_OPS
collection.
"""

import tensorflow as tf

BATCH_NORM_DECAY = 0.99
BATCH_NORM_EPSILON = 1e-3


def _l2_regularizer(weight_decay):
  if not weight_decay:
    return None
  return lambda w: tf.multiply(weight_decay, tf.nn.l2_loss(w), name="decay")


def variable(name, shape, initializer, **kwargs):
  """A reference variable (see the module docstring)."""
  return tf.compat.v1.get_variable(name, shape, initializer=initializer,
                                   use_resource=False, **kwargs)


def weights(shape, weight_decay, initializer=None):
  """`weights` of `shape`, decayed; He initialization by default."""
  # He initialization suits the ReLUs; the paper's N(0, 0.01) stalls with Adam.
  return variable(
      "weights", shape,
      initializer or tf.compat.v1.variance_scaling_initializer(scale=2.0),
      regularizer=_l2_regularizer(weight_decay))


def biases(size, initializer=None):
  return variable("biases", [size],
                  initializer or tf.compat.v1.zeros_initializer())


def batch_normalization(x, is_training):
  """Fused batch normalization with moving statistics updated via UPDATE_OPS."""
  depth = x.shape[-1]
  with tf.compat.v1.variable_scope("BatchNorm"):
    beta = variable("beta", [depth], tf.compat.v1.zeros_initializer())
    gamma = variable("gamma", [depth], tf.compat.v1.ones_initializer())
    moving_mean = variable("moving_mean", [depth],
                           tf.compat.v1.zeros_initializer(), trainable=False)
    moving_variance = variable("moving_variance", [depth],
                               tf.compat.v1.ones_initializer(),
                               trainable=False)
    if not is_training:
      y, _, _ = tf.compat.v1.nn.fused_batch_norm(
          x, gamma, beta, mean=moving_mean, variance=moving_variance,
          epsilon=BATCH_NORM_EPSILON, is_training=False)
      return y
    y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
        x, gamma, beta, epsilon=BATCH_NORM_EPSILON, is_training=True)
    for moving, batch in ((moving_mean, mean), (moving_variance, variance)):
      update = tf.compat.v1.assign_sub(
          moving, (1.0 - BATCH_NORM_DECAY) * (moving - batch))
      tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS, update)
    return y


def conv(x, depth, kernel, stride, padding, scope, weight_decay,
         batch_norm=False, is_training=False):
  """Convolution + ReLU; with batch_norm, BN replaces the bias before ReLU."""
  with tf.compat.v1.variable_scope(scope):
    w = weights([kernel, kernel, x.shape[-1], depth], weight_decay)
    y = tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding=padding)
    if batch_norm:
      y = batch_normalization(y, is_training)
    else:
      y = tf.nn.bias_add(y, biases(depth))
    return tf.nn.relu(y)


def fc(x, size, scope, weight_decay, relu=True, weights_initializer=None,
       biases_initializer=None):
  """Fully connected layer (+ ReLU unless relu=False)."""
  with tf.compat.v1.variable_scope(scope):
    w = weights([x.shape[-1], size], weight_decay, weights_initializer)
    y = tf.nn.bias_add(tf.matmul(x, w), biases(size, biases_initializer))
    return tf.nn.relu(y) if relu else y
