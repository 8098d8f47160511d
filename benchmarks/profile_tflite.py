"""Where a TFLite model's time goes: batch-1 latency by layer, per variant.

  python benchmarks/profile_tflite.py --graph=RUN/graphs/frozen.pb \\
      --data_dir=RUN/tfrecords_roi --work_dir=/tmp/profile_tflite \\
      --kernels=xnnpack,builtin --float_layers=conv1

LiteRT's Python API has no per-op profiler, so this converts the frozen
graph cut after each layer (the last op of each `alexnet/<layer>` scope, and
the softmax) in every --variants mode, times all cuts in alternation (LiteRT
with XNNPACK, or TFLite's own kernels for --kernels=builtin; batch 1, median
of --runs after warm-up, so every cut sees the same machine load) and
reports a layer's time as the difference between its cut and the one before.
int8 cuts are converted as tools/convert.py converts the int8 model (uint8
input, per-image standardization in float) but with a float output, so each
also pays a DEQUANTIZE of its activation: small next to the layers, and part
of the whole model's figure too. --float_layers adds a variant: int8 with
those layers kept float32 (tools/convert.py --float_layers). A difference of
two medians is noisy: layers that cost little (pools, fc8) can come out
slightly negative.

Writes the cut models, profile.md and profile.json to --work_dir.
"""

import json
import os

import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
import tensorflow as tf
from absl import app, flags
from tqdm import tqdm

from alexnet.core import atomic_files
from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.lite import converter
from alexnet.graph_tools import graph_io
from alexnet.lite import interpreter
from alexnet.nets import alexnet as alexnet_net

import analysis  # benchmarks/analysis.py, beside this script

flags.DEFINE_string("graph", None, "Frozen AlexNet graph (.pb).")
flags.DEFINE_string("data_dir", None, "TFRecords for int8 calibration.")
flags.DEFINE_string("work_dir", None, "Directory for the cut models and "
                    "tables.")
flags.DEFINE_list("variants", ["none", "int8"], "Quantize modes to profile.")
flags.DEFINE_list("threads", ["1", "2"], "Interpreter thread counts.")
flags.DEFINE_integer("runs", 50, "Timed runs per cut and thread count.")
flags.DEFINE_list("kernels", ["xnnpack"], "Kernels to time with: xnnpack "
                  "(LiteRT's default), builtin (TFLite's own, no delegate).")
flags.DEFINE_list("float_layers", [], "Also profile int8 with these layers "
                  "kept float32, as variant int8_float_<layers>.")
flags.DEFINE_integer("representative_samples", 100, "int8 calibration images.")
flags.mark_flags_as_required(["graph", "data_dir", "work_dir"])
FLAGS = flags.FLAGS

# A Reshape between pool5 and fc6: no work of its own worth a cut.
_NO_CUT = ("flatten",)


def layer_cuts(graph_def):
  """[(layer, output node)] in execution order: each scope's last op."""
  cuts = [(layer, node) for layer, node in analysis.layer_outputs(
      graph_def).items() if layer not in _NO_CUT]
  cuts.append(("softmax", alexnet_net.PROBABILITIES_NODE))
  return cuts


def variant_specs(variants, float_layers):
  """[(name, quantize mode, layers kept float)]: --variants, then int8 with
  --float_layers kept float32 if given."""
  specs = [(v, v, ()) for v in variants]
  if float_layers:
    specs.append(("int8_float_" + "_".join(float_layers), "int8",
                  tuple(float_layers)))
  return specs


def convert_cuts(graph, cuts, shape, specs, data_dir, work_dir):
  """{variant name: [tflite bytes per cut]}; each also saved in work_dir."""
  models = {}
  bar = tqdm(total=len(cuts) * len(specs), desc="converting", unit="model")
  for name, quantize, float_layers in specs:
    int8 = quantize == "int8"
    models[name] = []
    for k, (layer, node) in enumerate(cuts):
      # A cut keeps float only the float layers it contains.
      upto = {l for l, _ in cuts[:k + 1]}
      model = converter.tflite_bytes(
          graph, ["input"], [node], shape, quantize,
          input_type=tf.uint8 if int8 else tf.float32,
          representative_data=data_dir if int8 else None,
          representative_samples=FLAGS.representative_samples,
          float_layers=[l for l in float_layers if l in upto])
      atomic_files.atomic_write(
          os.path.join(work_dir, f"{name}_{k:02d}_{layer}.tflite"), model)
      models[name].append(model)
      bar.update()
  bar.close()
  return models


def profile(models, image, threads, runs, xnnpack):
  """{variant: [median ms per cut]}, every model timed in alternation."""
  stats = iter(analysis.measure_paired_latency(
      [m for cut_models in models.values() for m in cut_models], image,
      threads, runs, xnnpack=xnnpack))
  return {v: [next(stats)["median_ms"] for _ in cut_models]
          for v, cut_models in models.items()}


def layer_rows(cuts, medians):
  """Rows: layer, then per variant the cut-to-cut difference in ms."""
  rows = []
  for k, (layer, _) in enumerate(cuts):
    row = {"layer": layer}
    for v, cut_ms in medians.items():
      row[v] = cut_ms[k] - (cut_ms[k - 1] if k else 0.0)
    rows.append(row)
  rows.append({"layer": "whole model",
               **{v: cut_ms[-1] for v, cut_ms in medians.items()}})
  return rows


def markdown(rows_by_threads, variants):
  lines = []
  base = variants[0]
  for threads, rows in rows_by_threads.items():
    ratios = [f"{v}/{base}" for v in variants[1:]]
    lines += [f"\n{threads} thread(s), ms (difference of medians)\n",
              "| layer | " + " | ".join(variants + ratios) + " |",
              "|---" * (1 + len(variants) + len(ratios)) + "|"]
    for row in rows:
      cells = [f"{row[v]:.3f}" for v in variants]
      # A ratio of two near-zero (or negative) differences means nothing.
      cells += [f"{row[v] / row[base]:.2f}" if min(row[v], row[base]) > 0.05
                else "-" for v in variants[1:]]
      lines.append(f"| {row['layer']} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  graph_def = graph_io.load_graph_def(FLAGS.graph)
  inputs, _ = graph_io.io_tensors(graph_io.import_graph(graph_def), FLAGS.graph,
                                alexnet_net.INPUT_NODE,
                                alexnet_net.PROBABILITIES_NODE)
  size = inputs.shape[1]
  if size is None:
    raise UserError(f"{FLAGS.graph} has no fixed input size: pass a frozen "
                    "graph with a [N, S, S, 3] input")
  for flag, allowed in (("variants", converter.QUANTIZE_MODES),
                        ("kernels", ("xnnpack", "builtin"))):
    bad = [v for v in FLAGS[flag].value if v not in allowed]
    if bad:
      raise UserError(f"--{flag}={','.join(bad)}: use {', '.join(allowed)}")
  cuts = layer_cuts(graph_def)
  unknown = set(FLAGS.float_layers) - {layer for layer, _ in cuts}
  if unknown:
    raise UserError(f"--float_layers={','.join(sorted(unknown))}: not a layer "
                    f"of {FLAGS.graph} ({', '.join(l for l, _ in cuts)})")
  specs = variant_specs(FLAGS.variants, FLAGS.float_layers)
  os.makedirs(FLAGS.work_dir, exist_ok=True)
  models = convert_cuts(FLAGS.graph, cuts, [1, size, size, 3], specs,
                        FLAGS.data_dir, FLAGS.work_dir)
  image = interpreter.random_image(size)
  text = f"# TFLite latency by layer: {FLAGS.graph}\n"
  layers = {}
  for kernels in FLAGS.kernels:
    rows_by_threads = {}
    for threads in map(int, FLAGS.threads):
      medians = profile(models, image, threads, FLAGS.runs,
                        xnnpack=kernels == "xnnpack")
      rows_by_threads[threads] = layer_rows(cuts, medians)
    layers[kernels] = rows_by_threads
    text += (f"\n## {kernels} kernels\n\nBatch 1, median of {FLAGS.runs} "
             "runs, all cuts timed in alternation.\n" +
             markdown(rows_by_threads, [name for name, _, _ in specs]))
  print(text)
  atomic_files.atomic_write(os.path.join(FLAGS.work_dir, "profile.md"), text)
  atomic_files.atomic_write(
      os.path.join(FLAGS.work_dir, "profile.json"),
      json.dumps({"graph": FLAGS.graph, "cuts": cuts, "runs": FLAGS.runs,
                  "layers": layers}, indent=2))


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
