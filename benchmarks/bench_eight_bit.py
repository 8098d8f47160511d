"""The Graph Transform Tool's eight-bit graph against the float frozen graph.

  python benchmarks/bench_eight_bit.py --frozen=/tmp/frozen99.pb \
      --data_dir=/work/runs/gtsrb99/tfrecords --crop_roi --image_size=99

Makes, from the float frozen graph, the README's eight-bit graph
(registry.eight_bit_transforms: quantize_weights, quantize_nodes; ranges
measured on every run) and its calibrated copies (ranges logged on
--calibration_samples training images and frozen, as tools/transform.py
--calibration_data does, one per --percentiles pair); runs them all in
TensorFlow on the whole --split (top-1 against the labels and against the
float graph's top-1); times each at batch 1 (median of --latency_runs runs, the graphs taking
turns run by run, at 1 and 2 threads); then hands the eight-bit graph to
today's TFLite converter, builtin ops only and with SELECT_TF_OPS, and
tries to run what it gives in LiteRT. Prints markdown tables.
"""

import argparse
import os
import statistics
import time

import numpy as np
import tensorflow as tf

from alexnet.datasets import tfrecord_reader
from alexnet.graph_tools import calibration
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import registry

INPUT, OUTPUT = "input", "probabilities"


def _session(graph_def, threads):
  graph = graph_io.import_graph(graph_def)
  config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads,
                                    inter_op_parallelism_threads=threads)
  session = tf.compat.v1.Session(graph=graph, config=config)
  return session, graph.get_tensor_by_name(INPUT + ":0"), \
      graph.get_tensor_by_name(OUTPUT + ":0")


def _copy(graph_def):
  copy = tf.compat.v1.GraphDef()
  copy.CopyFrom(graph_def)
  return copy


def _graphs(args):
  float_graph = graph_io.load_graph_def(args.frozen)
  start = time.perf_counter()
  eight_bit = registry.transform_graph(
      _copy(float_graph), [INPUT], [OUTPUT],
      registry.eight_bit_transforms(args.image_size))
  transform_s = time.perf_counter() - start
  batches = calibration.tfrecord_batches(args.data_dir, "train",
                                         args.image_size,
                                         args.calibration_samples,
                                         args.crop_roi)
  log = os.path.join(args.out_dir, "ranges.log")
  start = time.perf_counter()
  calibration.log_ranges(eight_bit, INPUT, [OUTPUT], batches, log,
                         total=args.calibration_samples)
  calibrate_s = time.perf_counter() - start
  graphs = {"float": float_graph, "eight_bit": eight_bit}
  # One calibrated graph per percentile pair, all from the same log.
  for pair in args.percentiles.split(","):
    low, high = pair.split(":")
    graphs[f"eight_bit_calibrated_{low}_{high}"] = registry.transform_graph(
        _copy(eight_bit), [INPUT], [OUTPUT],
        [("freeze_requantization_ranges", {
            "min_max_log_file": [log], "min_percentile": [low],
            "max_percentile": [high]})])
  for name, graph in graphs.items():
    graph_io.save_graph_def(graph, os.path.join(args.out_dir, name + ".pb"))
  print(f"quantize: {transform_s:.1f} s; log ranges "
        f"({args.calibration_samples} images): {calibrate_s:.1f} s")
  return graphs


def _accuracy(args, graphs):
  sessions = {name: _session(g, 0) for name, g in graphs.items()}
  top1 = {name: [] for name in graphs}
  labels = []
  for images, y in tfrecord_reader.iterate_batches(
      args.data_dir, args.split, args.image_size, batch_size=args.batch_size,
      limit=args.limit, crop_roi=args.crop_roi):
    labels.append(y)
    for name, (session, x, p) in sessions.items():
      top1[name].append(session.run(p, {x: images}).argmax(1))
  labels = np.concatenate(labels)
  top1 = {name: np.concatenate(v) for name, v in top1.items()}
  print(f"\n{args.split}: {len(labels)} images, batches of "
        f"{args.batch_size}\n")
  print("| graph | top-1 | agrees with float top-1 |")
  print("|---|---|---|")
  for name, predicted in top1.items():
    print(f"| {name} | {(predicted == labels).mean():.2%} | "
          f"{(predicted == top1['float']).mean():.2%} |")
  for session, _, _ in sessions.values():
    session.close()


def _latency(args, graphs):
  image = np.random.RandomState(0).uniform(
      0, 255, (1, args.image_size, args.image_size, 3)).astype(np.float32)
  print("\n| graph | bytes | ms, 1 thread | ms, 2 threads |")
  print("|---|---|---|---|")
  results = {name: {} for name in graphs}
  for threads in (1, 2):
    sessions = {name: _session(g, threads) for name, g in graphs.items()}
    for session, x, p in sessions.values():
      for _ in range(3):  # warm-up (Grappler, first allocations)
        session.run(p, {x: image})
    times = {name: [] for name in graphs}
    for _ in range(args.latency_runs):
      for name, (session, x, p) in sessions.items():
        start = time.perf_counter()
        session.run(p, {x: image})
        times[name].append((time.perf_counter() - start) * 1000)
    for name, values in times.items():
      results[name][threads] = statistics.median(values)
    for session, _, _ in sessions.values():
      session.close()
  for name, graph in graphs.items():
    size = os.path.getsize(os.path.join(args.out_dir, name + ".pb"))
    print(f"| {name} | {size:,} | {results[name][1]:.2f} | "
          f"{results[name][2]:.2f} |")


def _tflite(args):
  path = os.path.join(args.out_dir, "eight_bit.pb")
  shapes = {INPUT: [1, args.image_size, args.image_size, 3]}
  print()
  for ops in ("builtins", "builtins+select"):
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        path, [INPUT], [OUTPUT], shapes)
    if ops == "builtins+select":
      converter.target_spec.supported_ops = [
          tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    try:
      model = converter.convert()
    except Exception as e:  # The converter's own error is what we report.
      lines = [l for l in str(e).splitlines() if "error:" in l] or [str(e)]
      print(f"TFLite {ops}: conversion fails: {type(e).__name__}: "
            f"{lines[0].strip()[:600]}")
      continue
    print(f"TFLite {ops}: converts, {len(model):,} bytes")
    from ai_edge_litert.interpreter import Interpreter
    try:
      interpreter = Interpreter(model_content=model)
      interpreter.allocate_tensors()
      print(f"TFLite {ops}: LiteRT loads it")
    except Exception as e:  # LiteRT's own error is what we report.
      print(f"TFLite {ops}: LiteRT fails: {type(e).__name__}: "
            f"{str(e).splitlines()[0][:600]}")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--frozen", required=True)
  parser.add_argument("--data_dir", required=True)
  parser.add_argument("--image_size", type=int, default=99)
  parser.add_argument("--crop_roi", action="store_true")
  parser.add_argument("--split", default="validation")
  parser.add_argument("--limit", type=int, default=None)
  parser.add_argument("--calibration_samples", type=int, default=100)
  parser.add_argument("--percentiles", default="5:5",
                      help="MIN:MAX[,MIN:MAX...] percentiles of "
                      "freeze_requantization_ranges (5:5, its defaults)")
  # The measured ranges (RequantizationRange, and every input's QuantizeV2)
  # are of the whole batch: the eight-bit graph's results depend on it.
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--latency_runs", type=int, default=50)
  parser.add_argument("--out_dir", default="/tmp/bench_eight_bit")
  args = parser.parse_args()
  os.makedirs(args.out_dir, exist_ok=True)
  graphs = _graphs(args)
  _tflite(args)
  _latency(args, graphs)
  _accuracy(args, graphs)


if __name__ == "__main__":
  main()
