"""Where a training step's time goes: op time by layer and by op type.

  python benchmarks/profile_training.py --image_size=227 --steps=3
  python benchmarks/profile_training.py --image_size=99 --profile_variant=bf16

Runs model_fn's TRAIN graph (fed one in-memory batch, as bench_training.py's
graph+memory row) with full tracing and sums each op's run time over the
traced steps, grouped by layer (the name scope: conv1, fc6, Adam, ...) and by
op type. With several threads ops overlap, so the sums exceed the wall time;
the shares are what matters. Also times the same steps untraced for each
`--variants` entry: `fp32` (as trained), `bf16` (the graph rewritten by
grappler's oneDNN auto-mixed-precision to bfloat16; needs a CPU with
AVX512_BF16 or AMX), `inter1` (one inter-op thread).
"""

import argparse
import collections
import os
import time

import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
import numpy as np
import tensorflow as tf

from alexnet.core.config import ModelConfig
from alexnet.core.session import session_config
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn


def _train_op(image_size, batch_size):
  params = Params(ModelConfig(image_size=image_size, num_classes=43))
  rng = np.random.default_rng(0)
  images = rng.uniform(0, 255, [batch_size, image_size, image_size, 3])
  labels = rng.integers(0, 43, batch_size)
  dataset = tf.data.Dataset.from_tensors(
      (images.astype(np.float32), labels)).repeat()
  features, targets = tf.compat.v1.data.make_one_shot_iterator(
      dataset).get_next()
  return model_fn(features, targets, ModeKeys.TRAIN, params).train_op


def _config(variant, threads):
  config = session_config(threads,
                          "bfloat16" if variant == "bf16" else "float32")
  if variant == "inter1":
    config.inter_op_parallelism_threads = 1
  return config


def _layer(node_name):
  # "gradients/alexnet/conv1/Conv2D_grad/..." -> "conv1"; Adam's slots under
  # "Adam/..." and "alexnet/conv1/weights/Adam" -> "Adam".
  parts = node_name.split("/")
  if parts[0] == "Adam" or any(p.startswith("Adam") for p in parts[1:]):
    return "Adam update"
  for part in parts:
    if part.startswith(("conv", "fc", "pool", "lrn", "norm", "dropout")):
      return part
  return parts[0] if parts[0] != "gradients" else parts[1]


def profile(args):
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(0)
    train_op = _train_op(args.image_size, args.batch_size)
    with tf.compat.v1.Session(
        config=_config(args.profile_variant, args.threads)) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for _ in range(2):
        sess.run(train_op)
      by_layer = collections.Counter()
      by_type = collections.Counter()
      options = tf.compat.v1.RunOptions(
          trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
      for _ in range(args.steps):
        metadata = tf.compat.v1.RunMetadata()
        sess.run(train_op, options=options, run_metadata=metadata)
        for device in metadata.step_stats.dev_stats:
          for node in device.node_stats:
            micros = node.op_end_rel_micros - node.op_start_rel_micros
            name = node.node_name.split(":")[0]
            by_layer[_layer(name)] += micros
            op = node.timeline_label.split("(")[0].split(" = ")[-1].strip()
            by_type[op or name] += micros
  for title, counter in (("layer", by_layer), ("op type", by_type)):
    total = sum(counter.values())
    print(f"\n| {title} | ms per step | share |\n|---|---|---|")
    for key, micros in counter.most_common(args.top):
      print(f"| {key} | {micros / 1000 / args.steps:.0f} | "
            f"{micros / total:.1%} |")


def time_variant(args, variant):
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(0)
    train_op = _train_op(args.image_size, args.batch_size)
    with tf.compat.v1.Session(config=_config(variant, args.threads)) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for _ in range(2):
        sess.run(train_op)
      start = time.perf_counter()
      for _ in range(args.steps):
        sess.run(train_op)
      return args.steps * args.batch_size / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--image_size", type=int, default=227)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--steps", type=int, default=3)
  parser.add_argument("--threads", type=int, default=os.cpu_count())
  parser.add_argument("--top", type=int, default=12)
  parser.add_argument("--variants", default="fp32,bf16,inter1")
  parser.add_argument("--profile_variant", default="fp32",
                      help="the variant traced (fp32 or bf16)")
  args = parser.parse_args()
  profile(args)
  print(f"\nuntraced, {args.steps} steps after 2 warm-up, "
        f"{args.image_size}x{args.image_size}, batch {args.batch_size}\n"
        "\n| variant | images/s |\n|---|---|")
  for variant in args.variants.split(","):
    print(f"| {variant} | {time_variant(args, variant):.1f} |")


if __name__ == "__main__":
  main()
