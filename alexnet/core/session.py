"""The tf.compat.v1 Session options every stage uses."""

import tensorflow as tf


def session_config(num_threads=0):
  """Session options: `num_threads` op threads (0: all cores); ops without a
  kernel on the chosen device fall back to another (soft placement); GPU
  memory grows as needed instead of being taken whole."""
  config = tf.compat.v1.ConfigProto(
      intra_op_parallelism_threads=num_threads,
      inter_op_parallelism_threads=num_threads,
      allow_soft_placement=True)
  config.gpu_options.allow_growth = True
  return config
