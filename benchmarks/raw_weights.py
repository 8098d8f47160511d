"""The raw weights of a checkpoint trained with moving averages.

  python benchmarks/raw_weights.py --checkpoint=RUN/model/model.ckpt-6860 \\
      --output_dir=RUN/raw6860
  python tools/evaluate.py --data_dir=RUN/tfrecords --model_dir=RUN/model \\
      --checkpoint=RUN/raw6860/model.ckpt-6860 --output_dir=RUN/evaluation_raw

A run trained with --moving_average_decay is validated, kept in best/ and
exported with its averages (alexnet.checkpoints.restore reads them when the
checkpoint holds them). This writes OUTPUT_DIR/model.ckpt-STEP with only the
network variables as training left them (no averages, no optimizer state),
so evaluating it measures what the averages add at that step.
"""

import os

import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
import tensorflow as tf
from absl import app, flags

from alexnet.estimator import checkpoints
from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.core.atomic_files import atomic_dir

flags.DEFINE_string("checkpoint", None, "Training checkpoint path prefix.")
flags.DEFINE_string("output_dir", None, "Where the raw checkpoint goes.")
flags.DEFINE_boolean("overwrite", False, "Replace output_dir's contents.")
flags.mark_flags_as_required(["checkpoint", "output_dir"])
FLAGS = flags.FLAGS


def write_raw_weights(checkpoint_path, output_dir, overwrite=False):
  """Saves the averaged variables' raw values; returns the new path."""
  if not tf.io.gfile.exists(checkpoint_path + ".index"):
    raise UserError(f"checkpoint {checkpoint_path} not found (no .index): "
                    "pass a path prefix like RUN/model/model.ckpt-6860")
  names = checkpoints.averaged_names(checkpoint_path)
  if not names:
    raise UserError(f"checkpoint {checkpoint_path} holds no moving averages: "
                    "it was trained without --moving_average_decay")
  with tf.Graph().as_default():
    variables = [tf.compat.v1.Variable(
        tf.train.load_variable(checkpoint_path, n), name=n) for n in names]
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      with atomic_dir(output_dir, overwrite=overwrite) as tmp:
        path = checkpoints.save(sess, tmp, checkpoints.global_step(
            checkpoint_path), variables)
  return os.path.join(output_dir, os.path.basename(path))


def main(argv):
  del argv
  path = write_raw_weights(FLAGS.checkpoint, FLAGS.output_dir,
                           FLAGS.overwrite)
  print(f"wrote {path}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
