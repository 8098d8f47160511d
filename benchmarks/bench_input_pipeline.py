"""The TFRecord input pipeline's throughput, and its cost beside a step.

  python benchmarks/bench_input_pipeline.py --data_dir=data/tfrecords \\
      --image_size=227 --batch_size=64 --augment
  python benchmarks/bench_input_pipeline.py --data_dir=data/tfrecords \\
      --image_size=99 --crop_roi --augment --augment_color --train_step \\
      --precision=bfloat16 --variants=cache,nocache

Reads training batches as training does (tools/train.py's input_fn in a
tf.compat.v1 graph session, the session options of alexnet.core.session)
and prints images/s and the process's CPU time per batch (all threads; on a
shared machine the CPU time is the steadier of the two). With --train_step it
also times model_fn's TRAIN step fed one batch held in memory, and prints the
input pipeline's cost as a share of a step: its CPU time per batch over the
step's. A cached split is timed after one whole epoch (the first pass
decodes and fills the cache).

--variants (comma-separated, each timed in turn, then again in reverse
order, so a drifting load shows): cache / nocache (the decoded-images cache
on or off), tfdata1 / tfdata2 (a private tf.data thread pool of that size
instead of the session's inter-op threads), inter1 (one inter-op thread
instead of --threads), onepass (cached, the training warp sampled at output
size in one pass instead of preprocessing.TRAINING_OVERSAMPLING).
"""

import math
import time

from absl import app, flags

import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
import numpy as np
import tensorflow as tf

from alexnet.core.config import ModelConfig, TrainConfig
from alexnet.core.errors import exit_on_user_error
from alexnet.core.session import check_precision, session_config
from alexnet.datasets import preprocessing
from alexnet.datasets import tfrecord_reader
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn

flags.DEFINE_string("data_dir", None, "Output of tools/build_tfrecord.py.")
flags.DEFINE_string("split", "train", "Split to read.")
flags.DEFINE_integer("image_size", 227, "Output image side.")
flags.DEFINE_integer("batch_size", 64, "Images per batch.")
flags.DEFINE_integer("num_batches", 100, "Batches to time (after warm-up).")
flags.DEFINE_integer("warmup_batches", 10, "Batches before timing starts "
                     "(a cached split: one epoch more).")
flags.DEFINE_boolean("augment", True, "Random geometric/photometric "
                     "augmentation, as in training.")
flags.DEFINE_boolean("augment_color", False, "With --augment, also random "
                     "gamma and saturation.")
flags.DEFINE_boolean("crop_roi", False, "Crop to the ROI before resizing.")
flags.DEFINE_integer("threads", 0, "Session op threads (0: all cores).")
flags.DEFINE_string("variants", "cache", "What to time; see the docstring.")
flags.DEFINE_boolean("train_step", False, "Also time a training step fed "
                     "from memory, and the pipeline's share of it.")
flags.DEFINE_enum("precision", "float32", ["float32", "bfloat16"],
                  "The training step's precision.")
flags.DEFINE_integer("train_steps", 10, "Training steps to time (after 3).")
flags.mark_flag_as_required("data_dir")
FLAGS = flags.FLAGS

VARIANTS = ("cache", "nocache", "tfdata1", "tfdata2", "inter1", "onepass")
_OVERSAMPLING = preprocessing.TRAINING_OVERSAMPLING


def _config(variant):
  config = session_config(FLAGS.threads)
  if variant == "inter1":
    config.inter_op_parallelism_threads = 1
  return config


def _timed(session, fetch, warmup, count):
  """(seconds, CPU seconds) of `count` runs of fetch after `warmup`."""
  for _ in range(warmup):
    session.run(fetch)
  wall, cpu = time.perf_counter(), time.process_time()
  for _ in range(count):
    session.run(fetch)
  return time.perf_counter() - wall, time.process_time() - cpu


def time_pipeline(variant):
  """(seconds, CPU seconds) per batch of the training input pipeline."""
  manifest = tfrecord_reader.read_manifest(FLAGS.data_dir)
  cache = variant != "nocache"
  # Read when the graph is built: only this variant's graph samples once.
  preprocessing.TRAINING_OVERSAMPLING = (None if variant == "onepass" else
                                         _OVERSAMPLING)
  with tf.Graph().as_default():
    dataset = tfrecord_reader.make_dataset(
        FLAGS.data_dir, FLAGS.split, FLAGS.image_size, FLAGS.batch_size,
        is_training=True, augment=FLAGS.augment,
        augment_color=FLAGS.augment_color, crop_roi=FLAGS.crop_roi,
        num_epochs=None, seed=0, drop_remainder=True, cache=cache)
    if variant.startswith("tfdata"):
      options = tf.data.Options()
      options.threading.private_threadpool_size = int(variant[len("tfdata"):])
      dataset = dataset.with_options(options)
    images, _ = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
    # Only the sum is fetched: no copy of the batch into Python.
    fetch = tf.reduce_sum(images)
    epoch = math.ceil(tfrecord_reader.split_count(manifest, FLAGS.split) /
                      FLAGS.batch_size)
    with tf.compat.v1.Session(config=_config(variant)) as sess:
      wall, cpu = _timed(sess, fetch, FLAGS.warmup_batches +
                         (epoch if cache else 0), FLAGS.num_batches)
  return wall / FLAGS.num_batches, cpu / FLAGS.num_batches


def time_train_step():
  """(seconds, CPU seconds) per training step fed one in-memory batch."""
  size = FLAGS.image_size
  params = Params(ModelConfig(image_size=size, num_classes=43),
                  TrainConfig(precision=FLAGS.precision))
  rng = np.random.default_rng(0)
  batch = (rng.uniform(0, 255, [FLAGS.batch_size, size, size, 3]).astype(
      np.float32), rng.integers(0, 43, FLAGS.batch_size))
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(0)
    images, labels = tf.compat.v1.data.make_one_shot_iterator(
        tf.data.Dataset.from_tensors(batch).repeat()).get_next()
    spec = model_fn(images, labels, ModeKeys.TRAIN, params)
    with tf.compat.v1.Session(
        config=session_config(FLAGS.threads, FLAGS.precision)) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      wall, cpu = _timed(sess, spec.train_op, 3, FLAGS.train_steps)
  return wall / FLAGS.train_steps, cpu / FLAGS.train_steps


def main(argv):
  del argv
  variants = FLAGS.variants.split(",")
  unknown = sorted(set(variants) - set(VARIANTS))
  if unknown:
    raise app.UsageError(f"--variants: {', '.join(unknown)} not among "
                         f"{', '.join(VARIANTS)}")
  if FLAGS.train_step:
    check_precision(FLAGS.precision)
  rows = []
  # Each variant, then each again in reverse: a load that drifts shows as a
  # difference between a variant's two rounds.
  for variant in variants + variants[::-1]:
    wall, cpu = time_pipeline(variant)
    rows.append((variant, wall, cpu))
    print(f"{variant}: {FLAGS.batch_size / wall:.0f} images/s, "
          f"{1000 * cpu:.1f} CPU ms per batch", flush=True)
  step = time_train_step() if FLAGS.train_step else None
  print(f"\n{FLAGS.split}, batches of {FLAGS.batch_size}x{FLAGS.image_size}x"
        f"{FLAGS.image_size}, augment={FLAGS.augment}, "
        f"augment_color={FLAGS.augment_color}, crop_roi={FLAGS.crop_roi}, "
        f"{FLAGS.num_batches} batches timed\n")
  header = "| variant | round | images/s | CPU ms per batch |"
  if step:
    header += " share of a step's CPU time |"
  print(header + "\n|" + "---|" * header.count(" |"))
  for i, (variant, wall, cpu) in enumerate(rows):
    line = (f"| {variant} | {1 + i // len(variants)} | "
            f"{FLAGS.batch_size / wall:.0f} | {1000 * cpu:.1f} |")
    if step:
      line += f" {cpu / step[1]:.1%} |"
    print(line)
  if step:
    print(f"\ntraining step ({FLAGS.precision}, from memory): "
          f"{FLAGS.batch_size / step[0]:.1f} images/s, "
          f"{1000 * step[1]:.0f} CPU ms per step")


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
