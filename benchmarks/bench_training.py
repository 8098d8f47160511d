"""Training throughput of AlexNet, side by side in one run, as ratios.

Rows (all batch B, Adam, the same network, the same thread count), each
`ROW`, `ROW:PRECISION` or (graph rows) `ROW:PRECISION:VARIANT`, VARIANT
interN (N inter-op threads, in a pool of the session's own), tfdataN (a
private tf.data pool of N threads), xla (XLA auto-clustering of the session's graph, as
global_jit_level ON_1 with TF_XLA_FLAGS=--tf_xla_cpu_global_jit, which this
script sets, gives it on CPU) or stn (the network behind a spatial
transformer, --spatial_transformer):
  tfrecords  model_fn's TRAIN graph fed by the TFRecord reader
  memory     the same graph fed one batch held in memory
  keras      Keras 3 `model.fit` of the same layers, from memory
  pytorch    PyTorch CPU (torch_alexnet_train.py, its own venv)
  matmul     a [N, N] x [N, N] matmul alone (--matmul_size): the peak the
             step's FLOP/s are compared with
At bfloat16 the graph rows run grappler's oneDNN auto-mixed-precision rewrite
(--precision=bfloat16 of tools/train.py), Keras the `mixed_bfloat16` policy,
PyTorch `torch.autocast("cpu", torch.bfloat16)`; weights stay float32.

  python benchmarks/bench_training.py --data_dir=/work/data/real_tfr \
      --image_size=227 --steps=10 --torch_python=/work/venv-torch/bin/python \
      --rows=matmul,tfrecords,memory,keras,pytorch,matmul:bfloat16,\
tfrecords:bfloat16,memory:bfloat16,keras:bfloat16,pytorch:bfloat16

Prints a markdown table with images/s and images per CPU second (this
process's, or PyTorch's, all threads), each row's ratio to the first row of
its precision, and its FLOP/s as a share of the matmul row of its precision,
by wall time and by CPU time (a step is counted as 3x the forward pass's
FLOPs that tf.profiler counts: the gradients with respect to the inputs and
to the weights each cost about one forward pass). Noisy machines: compare
the ratios, not the absolutes; on a shared machine the CPU-time shares hold
better, as each row is charged only the CPU it got.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

# Read once by XLA; lets the xla variant's global_jit_level reach the CPU (the
# other rows leave global_jit_level off, so it changes nothing for them).
os.environ["TF_XLA_FLAGS"] = (os.environ.get("TF_XLA_FLAGS", "") +
                              " --tf_xla_cpu_global_jit").strip()

import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
import numpy as np
import tensorflow as tf

from alexnet.core.config import ModelConfig, TrainConfig
from alexnet.core.session import check_precision, session_config
from alexnet.datasets import tfrecord_reader
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn

HERE = os.path.dirname(os.path.abspath(__file__))
PRECISIONS = ("float32", "bfloat16")


def _params(image_size, precision="float32", variant=""):
  return Params(ModelConfig(image_size=image_size, num_classes=43,
                            spatial_transformer=variant == "stn"),
                TrainConfig(precision=precision))


class _Clock:
  """Wall and CPU seconds (this process's, all threads) of a block."""

  def __enter__(self):
    self.start = time.perf_counter(), time.process_time()
    return self

  def __exit__(self, *exc):
    self.wall = time.perf_counter() - self.start[0]
    self.cpu = time.process_time() - self.start[1]

  def rates(self, count):
    """(count per second, count per CPU second)."""
    return count / self.wall, count / self.cpu


def _time_session(fetch, steps, warmup, config):
  with tf.compat.v1.Session(config=config) as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    for _ in range(warmup):
      sess.run(fetch)
    with _Clock() as clock:
      for _ in range(steps):
        sess.run(fetch)
    return clock


def _memory_batch(args):
  rng = np.random.default_rng(0)
  images = rng.uniform(0, 255, [args.batch_size, args.image_size,
                                args.image_size, 3]).astype(np.float32)
  return images, rng.integers(0, 43, args.batch_size)


def _variant(variant, threads, precision, dataset=None):
  """The session options (and the dataset) of a VARIANT: interN, N inter-op
  threads; tfdataN, a private tf.data pool of N threads instead of the
  session's inter-op threads; xla, auto-clustering. (No intra-op variant:
  the intra-op pool is the process's, sized by its first session.)"""
  count = int(variant.lstrip("abcdefghijklmnopqrstuvwxyz") or 0)
  config = session_config(
      threads, precision,
      inter_op_threads=count if variant.startswith("inter") else None)
  if variant == "xla":
    config.graph_options.optimizer_options.global_jit_level = (
        tf.compat.v1.OptimizerOptions.ON_1)
  elif variant.startswith("tfdata") and dataset is not None:
    options = tf.data.Options()
    options.threading.private_threadpool_size = count
    dataset = dataset.with_options(options)
  return config, dataset


def graph_images_per_s(args, from_memory, precision, variant=""):
  """model_fn's TRAIN graph, fed from TFRecords (input_fn's dataset) or
  from one in-memory batch."""
  params = _params(args.image_size, precision, variant)
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(0)
    if from_memory:
      dataset = tf.data.Dataset.from_tensors(_memory_batch(args)).repeat()
    else:
      dataset = tfrecord_reader.make_dataset(
          args.data_dir, "train", args.image_size, args.batch_size,
          is_training=True, augment=args.augment,
          augment_color=args.augment, crop_roi=args.crop_roi,
          num_epochs=None, seed=0, drop_remainder=True)
    config, dataset = _variant(variant, args.threads, precision, dataset)
    features, targets = tf.compat.v1.data.make_one_shot_iterator(
        dataset).get_next()
    spec = model_fn(features, targets, ModeKeys.TRAIN, params)
    clock = _time_session(spec.train_op, args.steps, args.warmup, config)
  return clock.rates(args.steps * args.batch_size)


def step_flops(image_size, variant=""):
  """FLOPs of one training step per image: 3x the forward pass's."""
  with tf.Graph().as_default() as graph:
    images = tf.compat.v1.placeholder(tf.float32, [1, image_size, image_size,
                                                   3])
    model_fn(images, None, ModeKeys.PREDICT,
             _params(image_size, variant=variant))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    forward = tf.compat.v1.profiler.profile(graph, options=options)
  return 3 * forward.total_float_ops


def matmul_flops_per_s(args, precision):
  """FLOP/s of one [N, N] x [N, N] matmul at `precision`, as oneDNN runs
  it in a graph session (bfloat16: bfloat16 operands, float32
  accumulation)."""
  n = args.matmul_size
  dtype = tf.bfloat16 if precision == "bfloat16" else tf.float32
  with tf.Graph().as_default():
    rng = np.random.default_rng(0)
    # Operands held in the precision (no cast in the timed runs), and one
    # element of the product fetched (no copy of it out, no reduction).
    a, b = (tf.Variable(tf.cast(rng.standard_normal([n, n]), dtype))
            for _ in range(2))
    corner = tf.matmul(a, b)[0, 0]
    runs = args.matmul_runs
    clock = _time_session(corner, runs, 2, session_config(args.threads))
  return clock.rates(runs * 2 * n ** 3)


def keras_alexnet(image_size, num_classes=43,
                  weight_decay=TrainConfig().weight_decay):
  """The same layers in Keras 3 (LRN and standardization as Lambda layers).

  Like the graph, every kernel carries weight decay: the graph adds
  weight_decay * l2_loss(w) = weight_decay * sum(w**2) / 2, Keras's L2(l)
  adds l * sum(w**2). The logits are float32 under any policy (Keras's
  advice for mixed precision: the softmax and loss in float32).
  """
  layers = tf.keras.layers
  decay = tf.keras.regularizers.L2(weight_decay / 2)
  conv = lambda filters, size, **kw: layers.Conv2D(
      filters, size, activation="relu", kernel_regularizer=decay, **kw)
  fc = lambda units, **kw: layers.Dense(units, kernel_regularizer=decay, **kw)
  # In float32 under any policy: LRN has no bfloat16 CPU kernel (grappler's
  # rewrite leaves it float32 the same way).
  lrn = lambda: layers.Lambda(lambda x: tf.cast(
      tf.nn.local_response_normalization(
          tf.cast(x, tf.float32), depth_radius=2, bias=2.0, alpha=1e-4,
          beta=0.75), x.dtype))
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
      fc(num_classes, dtype="float32"),
  ])


def keras_images_per_s(args, precision):
  tf.keras.utils.set_random_seed(0)
  dataset = tf.data.Dataset.from_tensors(_memory_batch(args)).repeat()
  tf.keras.mixed_precision.set_global_policy(
      "mixed_bfloat16" if precision == "bfloat16" else "float32")
  try:
    model = keras_alexnet(args.image_size)
  finally:
    tf.keras.mixed_precision.set_global_policy("float32")
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-4),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  model.fit(dataset, epochs=1, steps_per_epoch=args.warmup, verbose=0)
  with _Clock() as clock:
    model.fit(dataset, epochs=1, steps_per_epoch=args.steps, verbose=0)
  return clock.rates(args.steps * args.batch_size)


def torch_images_per_s(args, precision):
  out = subprocess.run(
      [args.torch_python, os.path.join(HERE, "torch_alexnet_train.py"),
       f"--image_size={args.image_size}", f"--batch_size={args.batch_size}",
       f"--steps={args.steps}", f"--warmup={args.warmup}",
       f"--threads={args.threads}", f"--precision={precision}"],
      check=True, capture_output=True, text=True)
  result = json.loads(out.stdout.strip().splitlines()[-1])
  return result["images_per_s"], result["images_per_cpu_s"]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--data_dir", required=True, help="TFRecord dataset")
  parser.add_argument("--image_size", type=int, default=227)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--threads", type=int, default=os.cpu_count())
  parser.add_argument("--augment", action="store_true",
                      help="augment (colour too) in the TFRecord row")
  parser.add_argument("--crop_roi", action="store_true",
                      help="crop to the ROI in the TFRecord row")
  parser.add_argument("--torch_python", default="",
                      help="python of a venv with torch==2.13.0 (CPU)")
  parser.add_argument("--matmul_size", type=int, default=4096)
  parser.add_argument("--matmul_runs", type=int, default=10)
  parser.add_argument("--rows", default="tfrecords,memory,keras,pytorch")
  args = parser.parse_args()
  # Eager (Keras) threads can only be set before TensorFlow initializes.
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(args.threads)
  measure = {
      "tfrecords": ("graph+tfrecords",
                    lambda p, v: graph_images_per_s(args, False, p, v)),
      "memory": ("graph+memory",
                 lambda p, v: graph_images_per_s(args, True, p, v)),
      "keras": ("keras 3 model.fit",
                lambda p, v: keras_images_per_s(args, p)),
      "pytorch": ("pytorch 2.13 cpu",
                  lambda p, v: torch_images_per_s(args, p)),
      "matmul": (f"matmul {args.matmul_size}^2",
                 lambda p, v: matmul_flops_per_s(args, p)),
  }
  rows = []
  for row in args.rows.split(","):
    key, precision, variant = (row.split(":") + ["", ""])[:3]
    precision = precision or "float32"
    if (key not in measure or precision not in PRECISIONS or variant and (
        key not in ("tfrecords", "memory") or
        not re.fullmatch(r"(inter|tfdata)\d+|xla|stn", variant))):
      parser.error(f"--rows: {row} is not ROW[:PRECISION[:VARIANT]] with ROW "
                   f"one of {', '.join(measure)}, PRECISION one of "
                   f"{', '.join(PRECISIONS)} and VARIANT (graph rows) "
                   "interN, tfdataN, xla or stn")
    rows.append((key, precision, variant))
  if any(p == "bfloat16" for _, p, _ in rows):
    check_precision("bfloat16")
  # Per image and step, by network (the stn rows' has the transformer).
  flops = {network: step_flops(args.image_size, network)
           for network in {"", *(v for _, _, v in rows if v == "stn")}}
  results = []
  for key, precision, variant in rows:
    if key == "pytorch" and not args.torch_python:
      print("pytorch row skipped: pass --torch_python", file=sys.stderr)
      continue
    name, run = measure[key]
    rate, cpu_rate = run(precision, variant)
    results.append((key + variant, f"{name} {precision} {variant}".strip(),
                    precision, rate, cpu_rate))
    print(f"{results[-1][1]}: {rate:.1f} "
          f"{'FLOP/s' if key == 'matmul' else 'images/s'}, {cpu_rate:.1f} "
          "per CPU second", file=sys.stderr)
  peaks = {p: (r, c) for k, _, p, r, c in results if k == "matmul"}
  firsts, floats = {}, {}
  for key, _, precision, rate, _ in results:
    if key != "matmul":
      firsts.setdefault(precision, rate)
    if precision == "float32":
      floats[key] = rate
  print(f"\nAlexNet {args.image_size}x{args.image_size}, batch "
        f"{args.batch_size}, {args.steps} steps after {args.warmup} warm-up, "
        f"{args.threads} threads; a step "
        + " and ".join(f"{f / 1e9:.2f} GFLOP per image{' with stn' * bool(n)}"
                       for n, f in sorted(flops.items())) + "\n")
  print("| row | images/s | images per CPU s | ratio to the first row of its "
        "precision | bfloat16 / float32 | GFLOP/s | share of the matmul "
        "peak | the same per CPU second |\n|---|---|---|---|---|---|---|---|")
  for key, name, precision, rate, cpu_rate in results:
    speedup = (f"{rate / floats[key]:.2f}"
               if precision == "bfloat16" and key in floats else "-")
    if key == "matmul":
      print(f"| {name} | - | - | - | {speedup} | {rate / 1e9:.0f} | 1.00 | "
            f"1.00 ({cpu_rate / 1e9:.0f} GFLOP per CPU s) |")
      continue
    peak = peaks.get(precision)
    step = flops["stn" if key.endswith("stn") else ""]
    shares = ((f"{rate * step / peak[0]:.2f}",
               f"{cpu_rate * step / peak[1]:.2f}") if peak else ("-", "-"))
    print(f"| {name} | {rate:.1f} | {cpu_rate:.1f} | "
          f"{rate / firsts[precision]:.2f} | {speedup} | "
          f"{rate * step / 1e9:.0f} | {shares[0]} | {shares[1]} |")


if __name__ == "__main__":
  main()
