"""Training throughput of AlexNet, side by side in one run, as ratios.

Rows (all batch B, Adam, the same network, the same thread count):
  graph+tfrecords  model_fn's TRAIN graph fed by the TFRecord reader
  graph+memory     the same graph fed one batch held in memory
  keras            Keras 3 `model.fit` of the same layers, from memory
  pytorch          PyTorch CPU (torch_alexnet_train.py, its own venv)

  python benchmarks/bench_training.py --data_dir=/work/data/real_tfr \
      --image_size=227 --steps=10 --torch_python=/work/venv-torch/bin/python

Prints a markdown table with images/s and each row's ratio to
graph+tfrecords. Noisy machines: compare the ratios, not the absolutes.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
import numpy as np
import tensorflow as tf

from alexnet.training import trainer
from alexnet.estimator.model_fn import DEFAULT_PARAMS, ModeKeys, model_fn

HERE = os.path.dirname(os.path.abspath(__file__))


def _params(image_size):
  return {**DEFAULT_PARAMS, "image_size": image_size, "num_classes": 43}


def _time_session(train_op, steps, warmup, threads):
  config = trainer.session_config(threads)
  with tf.compat.v1.Session(config=config) as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    for _ in range(warmup):
      sess.run(train_op)
    start = time.perf_counter()
    for _ in range(steps):
      sess.run(train_op)
    return time.perf_counter() - start


def graph_images_per_s(args, from_memory):
  """model_fn's TRAIN graph, fed from TFRecords or from one in-memory batch."""
  params = _params(args.image_size)
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(0)
    if from_memory:
      rng = np.random.default_rng(0)
      images = rng.uniform(0, 255, [args.batch_size, args.image_size,
                                    args.image_size, 3]).astype(np.float32)
      labels = rng.integers(0, 43, args.batch_size)
      dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
      features, targets = tf.compat.v1.data.make_one_shot_iterator(
          dataset).get_next()
    else:
      features, targets = trainer.input_fn(
          args.data_dir, "train", params, args.batch_size, is_training=True,
          augment=args.augment, num_epochs=None, seed=0)
    spec = model_fn(features, targets, ModeKeys.TRAIN, params)
    seconds = _time_session(spec.train_op, args.steps, args.warmup,
                            args.threads)
  return args.steps * args.batch_size / seconds


def keras_alexnet(image_size, num_classes=43,
                  weight_decay=DEFAULT_PARAMS["weight_decay"]):
  """The same layers in Keras 3 (LRN and standardization as Lambda layers).

  Like the graph, every kernel carries weight decay: the graph adds
  weight_decay * l2_loss(w) = weight_decay * sum(w**2) / 2, Keras's L2(l)
  adds l * sum(w**2).
  """
  layers = tf.keras.layers
  decay = tf.keras.regularizers.L2(weight_decay / 2)
  conv = lambda filters, size, **kw: layers.Conv2D(
      filters, size, activation="relu", kernel_regularizer=decay, **kw)
  fc = lambda units, **kw: layers.Dense(units, kernel_regularizer=decay, **kw)
  lrn = lambda: layers.Lambda(lambda x: tf.nn.local_response_normalization(
      x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75))
  return tf.keras.Sequential([
      layers.Input([image_size, image_size, 3]),
      layers.Lambda(tf.image.per_image_standardization),
      conv(96, 11, strides=4), lrn(), layers.MaxPooling2D(3, 2),
      conv(256, 5, padding="same"), lrn(), layers.MaxPooling2D(3, 2),
      conv(384, 3, padding="same"),
      conv(384, 3, padding="same"),
      conv(256, 3, padding="same"), layers.MaxPooling2D(3, 2),
      layers.Flatten(),
      fc(4096, activation="relu"), layers.Dropout(0.5),
      fc(4096, activation="relu"), layers.Dropout(0.5),
      fc(num_classes),
  ])


def keras_images_per_s(args):
  tf.keras.utils.set_random_seed(0)
  rng = np.random.default_rng(0)
  images = rng.uniform(0, 255, [args.batch_size, args.image_size,
                                args.image_size, 3]).astype(np.float32)
  labels = rng.integers(0, 43, args.batch_size)
  dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
  model = keras_alexnet(args.image_size)
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-4),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  model.fit(dataset, epochs=1, steps_per_epoch=args.warmup, verbose=0)
  start = time.perf_counter()
  model.fit(dataset, epochs=1, steps_per_epoch=args.steps, verbose=0)
  return args.steps * args.batch_size / (time.perf_counter() - start)


def torch_images_per_s(args):
  out = subprocess.run(
      [args.torch_python, os.path.join(HERE, "torch_alexnet_train.py"),
       f"--image_size={args.image_size}", f"--batch_size={args.batch_size}",
       f"--steps={args.steps}", f"--warmup={args.warmup}",
       f"--threads={args.threads}"],
      check=True, capture_output=True, text=True)
  return json.loads(out.stdout.strip().splitlines()[-1])["images_per_s"]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--data_dir", required=True, help="TFRecord dataset")
  parser.add_argument("--image_size", type=int, default=227)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--threads", type=int, default=os.cpu_count())
  parser.add_argument("--augment", action="store_true",
                      help="augment in the TFRecord row")
  parser.add_argument("--torch_python", default="",
                      help="python of a venv with torch==2.13.0 (CPU)")
  parser.add_argument("--rows", default="tfrecords,memory,keras,pytorch")
  args = parser.parse_args()
  # Eager (Keras) threads can only be set before TensorFlow initializes.
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(args.threads)
  rows = args.rows.split(",")
  measure = {
      "tfrecords": ("graph+tfrecords", lambda: graph_images_per_s(args, False)),
      "memory": ("graph+memory", lambda: graph_images_per_s(args, True)),
      "keras": ("keras 3 model.fit", lambda: keras_images_per_s(args)),
      "pytorch": ("pytorch 2.13 cpu", lambda: torch_images_per_s(args)),
  }
  results = []
  for key in rows:
    if key == "pytorch" and not args.torch_python:
      print("pytorch row skipped: pass --torch_python", file=sys.stderr)
      continue
    name, run = measure[key]
    results.append((name, run()))
    print(f"{name}: {results[-1][1]:.1f} images/s", file=sys.stderr)
  base = results[0][1]
  print(f"\nAlexNet {args.image_size}x{args.image_size}, batch "
        f"{args.batch_size}, {args.steps} steps after {args.warmup} warm-up, "
        f"{args.threads} threads\n")
  print(f"| row | images/s | ratio to {results[0][0]} |\n|---|---|---|")
  for name, value in results:
    print(f"| {name} | {value:.1f} | {value / base:.2f} |")


if __name__ == "__main__":
  main()
