"""Trains AlexNet on a GTSRB TFRecord dataset; resumes from model_dir.

  python tools/train.py --data_dir=data/tfrecords --model_dir=runs/alexnet \\
      --image_size=227 --batch_size=64 --epochs=20

Writes checkpoints, TensorBoard events (`tensorboard --logdir=MODEL_DIR`),
train_log.jsonl, best/ (best validation top-1), model_config.json, and at
the end export/ (inference graph + checkpoint for freeze_graph, SavedModel).
Run the same command again to continue an interrupted run.
"""

from absl import app, flags

from alexnet import checkpoints, export, plots, training
from alexnet.core.errors import exit_on_user_error
from alexnet.model_fn import DEFAULT_PARAMS, LR_SCHEDULES
from alexnet.nets import alexnet as alexnet_lib
import tensorflow as tf  # after alexnet, which picks TensorFlow's kernels

flags.DEFINE_string("data_dir", None, "TFRecord dataset (build_tfrecord.py).")
flags.DEFINE_string("model_dir", None, "Checkpoints, logs and exports.")
flags.DEFINE_integer("image_size", 227, "Input side in pixels (at least 67).")
flags.DEFINE_integer("batch_size", 64, "Images per step.")
flags.DEFINE_integer("epochs", 20, "Passes over the training split.")
flags.DEFINE_integer("max_steps", None, "Total steps; overrides --epochs.")
flags.DEFINE_float("learning_rate", DEFAULT_PARAMS["learning_rate"],
                   "Adam's (peak) learning rate.")
flags.DEFINE_enum("lr_schedule", DEFAULT_PARAMS["lr_schedule"], LR_SCHEDULES,
                  "Learning-rate schedule after warm-up.")
flags.DEFINE_float("warmup_epochs", 0.0, "Linear warm-up length in epochs.")
flags.DEFINE_float("decay_epochs", 10.0, "step schedule: epochs per decay.")
flags.DEFINE_float("decay_rate", DEFAULT_PARAMS["decay_rate"],
                   "step schedule: factor per decay.")
flags.DEFINE_boolean("augment", False, "Random rotation, scale, shift, "
                     "brightness and contrast.")
flags.DEFINE_boolean("augment_color", False, "With --augment, also random "
                     "gamma and saturation.")
flags.DEFINE_boolean("crop_roi", False, "Crop images to the sign's ROI.")
flags.DEFINE_enum("normalization", DEFAULT_PARAMS["normalization"],
                  alexnet_lib.NORMALIZATIONS, "LRN (the paper) or batch norm.")
flags.DEFINE_enum("input_standardization",
                  DEFAULT_PARAMS["input_standardization"],
                  alexnet_lib.INPUT_STANDARDIZATIONS,
                  "per_image: zero mean, unit variance per image; fixed: "
                  "(x - 127.5) / 127.5; equalize: histogram equalization "
                  "of each channel, then per_image.")
flags.DEFINE_float("dropout_rate", DEFAULT_PARAMS["dropout_rate"],
                   "Dropout rate of fc6 and fc7.")
flags.DEFINE_float("weight_decay", DEFAULT_PARAMS["weight_decay"],
                   "L2 weight decay.")
flags.DEFINE_float("label_smoothing", 0.0, "Label smoothing (0: none).")
flags.DEFINE_float("moving_average_decay", 0.0, "Decay of the weights' "
                   "moving averages, which validation and export then use "
                   "(0: none; e.g. 0.999).")
flags.DEFINE_integer("seed", None, "Seed for repeatable runs.")
flags.DEFINE_integer("save_checkpoints_secs", 600, "Checkpoint interval.")
flags.DEFINE_integer("save_checkpoints_steps", None, "Checkpoint interval in "
                     "steps; overrides --save_checkpoints_secs.")
flags.DEFINE_integer("save_summary_steps", 100, "TensorBoard interval.")
flags.DEFINE_integer("log_every_n_steps", 100, "Logged loss line interval.")
flags.DEFINE_integer("keep_checkpoints", 3, "Recent checkpoints kept.")
flags.DEFINE_integer("num_threads", 0, "Op threads (0: all cores).")
flags.DEFINE_boolean("export", True, "Export the best (else the latest) "
                     "checkpoint at the end.")
flags.mark_flags_as_required(["data_dir", "model_dir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  # Checkpoint saves and the logging hook's loss lines, printed once (not
  # again through absl's root handler).
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.INFO)
  tf.get_logger().propagate = False
  params = {
      "network": "alexnet",
      "image_size": FLAGS.image_size,
      "normalization": FLAGS.normalization,
      "input_standardization": FLAGS.input_standardization,
      "crop_roi": FLAGS.crop_roi,
      "dropout_rate": FLAGS.dropout_rate,
      "weight_decay": FLAGS.weight_decay,
      "learning_rate": FLAGS.learning_rate,
      "lr_schedule": FLAGS.lr_schedule,
      "decay_rate": FLAGS.decay_rate,
      "label_smoothing": FLAGS.label_smoothing,
      "moving_average_decay": FLAGS.moving_average_decay,
  }
  step = training.train(
      FLAGS.data_dir, FLAGS.model_dir, params, batch_size=FLAGS.batch_size,
      epochs=FLAGS.epochs, max_steps=FLAGS.max_steps, augment=FLAGS.augment,
      augment_color=FLAGS.augment_color,
      seed=FLAGS.seed, warmup_epochs=FLAGS.warmup_epochs,
      decay_epochs=FLAGS.decay_epochs,
      save_checkpoints_secs=FLAGS.save_checkpoints_secs,
      save_checkpoints_steps=FLAGS.save_checkpoints_steps,
      save_summary_steps=FLAGS.save_summary_steps,
      log_every_n_steps=FLAGS.log_every_n_steps,
      keep_checkpoints=FLAGS.keep_checkpoints, num_threads=FLAGS.num_threads)
  print(f"trained to step {step} in {FLAGS.model_dir}")
  plots.plot_training(FLAGS.model_dir, FLAGS.model_dir)
  if FLAGS.export:
    which = "best" if checkpoints.read_best(FLAGS.model_dir) else "latest"
    export_dir = export.export(FLAGS.model_dir, which)
    print(f"exported the {which} checkpoint to {export_dir}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
