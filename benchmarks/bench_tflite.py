"""Converts a frozen AlexNet to every TFLite variant and checks the targets.

  python benchmarks/bench_tflite.py --graph=runs/x/frozen.pb \\
      --data_dir=data/tfrecords --work_dir=runs/x/bench_tflite

  # Size and latency only, on a random-init 227x227 AlexNet:
  python benchmarks/bench_tflite.py --random_init --image_size=227 \\
      --data_dir=data/tfrecords --work_dir=/tmp/bench_tflite

Writes float, dynamic, float16 and int8 (uint8 input) .tflite files and
comparison.md/.csv in --work_dir, then checks:
  int8 size <= 26% of float; int8 latency <= 0.6x float at 2 threads
  (median, batch 1, the two models timed in alternation so both see the
  same machine load); int8 top-1 within 0.5 points of float (skipped with
  --random_init, whose accuracy means nothing).
"""

import json
import os

import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
import tensorflow as tf
from absl import app, flags

from alexnet.core import atomic_files
from alexnet.datasets import signnames
from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.runner import comparison
from alexnet.lite import converter
from alexnet.lite import flatbuffer
from alexnet.lite import interpreter
from alexnet.nets import alexnet

import analysis  # benchmarks/analysis.py, beside this script

flags.DEFINE_string("graph", None, "Frozen AlexNet graph (.pb).")
flags.DEFINE_boolean("random_init", False, "Benchmark a random-init AlexNet "
                     "instead of --graph (size and latency only).")
flags.DEFINE_integer("image_size", 227, "Input size of the --random_init net.")
flags.DEFINE_string("data_dir", None, "TFRecords for calibration/evaluation.")
flags.DEFINE_string("split", "validation", "Split to evaluate on.")
flags.DEFINE_integer("limit", None, "Evaluate only the first N images.")
flags.DEFINE_integer("representative_samples", 100, "int8 calibration images.")
flags.DEFINE_integer("latency_runs", 50, "Timed runs per thread count.")
flags.DEFINE_string("work_dir", None, "Directory for models and tables.")
flags.mark_flags_as_required(["data_dir", "work_dir"])
FLAGS = flags.FLAGS

VARIANTS = (("float", "none", None), ("dynamic", "dynamic", None),
            ("float16", "float16", None), ("int8", "int8", "QUANTIZED_UINT8"))
TARGETS = {"int8_size_ratio": 0.26, "int8_latency_ratio_2t": 0.6,
           "int8_top1_drop_points": 0.5}


def random_init_graph(path, image_size):
  """Freezes an untrained AlexNet (43 classes) at `image_size` into `path`."""
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(0)
    logits, _ = alexnet.alexnet(alexnet.input_placeholder(image_size),
                                signnames.NUM_CLASSES)
    outputs = alexnet.inference_outputs(logits)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
          sess, graph.as_graph_def(), [outputs["probabilities"].op.name])
  atomic_files.atomic_write(path, frozen.SerializeToString())
  return path


def paired_latency_ratio(float_path, int8_path, image_size, runs):
  """int8/float median latency at 2 threads, the two timed in alternation."""
  image = interpreter.random_image(image_size)
  contents = [flatbuffer.read_tflite(p) for p in (float_path, int8_path)]
  base, int8 = analysis.measure_paired_latency(contents, image, 2, runs)
  print(f"paired at 2 threads: float {base['median_ms']:.1f} ms, int8 "
        f"{int8['median_ms']:.1f} ms (median of {runs})")
  return int8["median_ms"] / base["median_ms"]


def check_targets(rows, latency_ratio, with_accuracy):
  """{"name": (value, limit, passed)} for the int8 targets."""
  by_name = {r["name"]: r for r in rows}
  base, int8 = by_name["float"], by_name["int8"]
  checks = {
      "int8_size_ratio": int8["size_mb"] / base["size_mb"],
      "int8_latency_ratio_2t": latency_ratio,
  }
  if with_accuracy:
    checks["int8_top1_drop_points"] = 100 * (base["top1"] - int8["top1"])
  return {k: (v, TARGETS[k], v <= TARGETS[k]) for k, v in checks.items()}


def main(argv):
  del argv
  os.makedirs(FLAGS.work_dir, exist_ok=True)
  if FLAGS.random_init == bool(FLAGS.graph):
    raise UserError("pass either --graph=FROZEN.pb or --random_init")
  graph = FLAGS.graph or random_init_graph(
      os.path.join(FLAGS.work_dir, "random_init.pb"), FLAGS.image_size)
  models = []
  for name, quantize, input_type in VARIANTS:
    path = os.path.join(FLAGS.work_dir, f"{name}.tflite")
    info = converter.convert_frozen_graph(
        graph, path, quantize=quantize, inference_input_type=input_type,
        representative_data=FLAGS.data_dir,
        representative_samples=FLAGS.representative_samples)
    print(f"{name}: {info['size_bytes']} bytes; ops {info['ops']}")
    models.append((name, path))
  rows = comparison.compare_models(models, FLAGS.data_dir, FLAGS.split,
                                FLAGS.latency_runs, (1, 2), FLAGS.limit)
  md_path, _ = comparison.write_tables(rows, FLAGS.work_dir,
                                    f"TFLite variants of {graph}")
  with open(md_path) as f:
    print(f.read())
  paths = dict(models)
  image_size = interpreter.input_image_size(
      interpreter.load(paths["float"]), paths["float"])
  ratio = paired_latency_ratio(paths["float"], paths["int8"], image_size,
                               FLAGS.latency_runs)
  checks = check_targets(rows, ratio, with_accuracy=not FLAGS.random_init)
  for key, (value, limit, passed) in checks.items():
    print(f"{'PASS' if passed else 'FAIL'} {key} = {value:.3f} "
          f"(target <= {limit})")
  atomic_files.atomic_write(os.path.join(FLAGS.work_dir, "bench_tflite.json"),
                      json.dumps({"rows": rows, "checks": checks}, indent=2))


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
