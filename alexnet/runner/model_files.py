"""Accuracy, agreement, size and latency of a .tflite model or frozen graph.

Both kinds run on the same images from the same reader, at batch 1 for
latency, so rows of the comparison table are directly comparable. Accuracy
figures come from alexnet.metrics, as for the TensorFlow evaluation.
"""

import gzip
import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from alexnet.evaluation import metrics
from alexnet.core.errors import UserError
from alexnet.lite import flatbuffer
from alexnet.graph_tools import graph_io
from alexnet.lite import interpreter as lite_interpreter
from alexnet.runner.images import load_images


def file_sizes(path):
  """(bytes, gzipped bytes): gzip shows how much a download would shrink."""
  with open(path, "rb") as f:
    content = f.read()
  return len(content), len(gzip.compress(content, compresslevel=6))


def _result(path, kind, labels, tracks, probabilities, class_names,
            reference_probabilities, latency):
  size, gzip_size = file_sizes(path)
  agreement = None
  if reference_probabilities is not None:
    agreement = metrics.top1_agreement(reference_probabilities, probabilities)
  return {
      "path": path, "kind": kind, "size_bytes": size,
      "gzip_bytes": gzip_size,
      "report": metrics.classification_report(labels, probabilities,
                                              class_names, tracks),
      "agreement": agreement, "latency": latency,
      "labels": labels, "probabilities": probabilities,
  }


def evaluate_tflite(model_path, data_dir, split, reference_probabilities=None,
                    latency_runs=50, threads=(1, 2), limit=None,
                    image_size=None, test_dir=None, crop_roi=False):
  """Evaluates a .tflite model on a TFRecords split (or `test_dir`, a GTSRB
  final-test folder; `crop_roi`: see images.load_images).

  `image_size`, if given (e.g. a tool's --image_size), must match the model's
  input; by default the images are read at the model's input size.

  Returns a dict: path, kind "tflite", size_bytes, gzip_bytes, report
  (metrics.classification_report), agreement (top-1 agreement with
  `reference_probabilities`, or None), latency {threads: {median_ms, p90_ms,
  runs}} at batch 1 (empty when latency_runs is 0), labels, probabilities,
  input (dtype/scale/zero_point), ops summary and float_fallback_ops.
  """
  content = flatbuffer.read_tflite(model_path)
  interpreter = lite_interpreter.load(model_path, model_content=content)
  model_size = lite_interpreter.input_image_size(interpreter, model_path)
  if image_size and image_size != model_size:
    raise UserError(f"{model_path} takes {model_size}x{model_size} images but "
                    f"the data is read at {image_size}x{image_size}: pass "
                    f"--image_size={model_size} or the matching model")
  image_size = model_size
  num_classes = int(interpreter.get_output_details()[0]["shape"][-1])
  images, labels, class_names, tracks = load_images(
      data_dir, split, image_size, num_classes, limit, test_dir, crop_roi)
  probabilities = lite_interpreter.predict(
      interpreter, tqdm(images, desc=os.path.basename(model_path), unit="img"))
  latency = {n: lite_interpreter.measure_latency(content, images[0], n,
                                                 latency_runs)
             for n in threads if latency_runs}
  result = _result(model_path, "tflite", labels, tracks, probabilities,
                   class_names, reference_probabilities, latency)
  ops = flatbuffer.list_ops(content)
  result.update(lite_interpreter.io_quantization(interpreter),
                ops=flatbuffer.summarize_ops(ops),
                float_fallback_ops=flatbuffer.float_fallback_ops(ops))
  return result


class FrozenGraphRunner:
  """A frozen classification GraphDef in a Session with a fixed thread count."""

  def __init__(self, graph_path, input_name="input",
               output_name="probabilities", num_threads=0):
    """num_threads 0 lets TensorFlow choose (all cores)."""
    self.graph = graph_io.import_graph(graph_io.load_graph_def(graph_path), graph_path)
    self._input, self._output = graph_io.io_tensors(
        self.graph, graph_path, input_name, output_name)
    self.input_shape = self._input.shape.as_list()
    self.num_classes = self._output.shape[-1]
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=num_threads,
                                      inter_op_parallelism_threads=1)
    self.session = tf.compat.v1.Session(graph=self.graph, config=config)

  def image_size(self, graph_path):
    size = self.input_shape[1]
    if size is None or len(self.input_shape) != 4:
      raise UserError(f"{graph_path} input shape {self.input_shape} is not "
                      "[N, S, S, 3] with a static size")
    return size

  def predict(self, images, batch_size=32):
    return np.concatenate([
        self.session.run(self._output, {self._input: images[i:i + batch_size]})
        for i in range(0, len(images), batch_size)])

  def close(self):
    self.session.close()


def evaluate_frozen_graph(graph_path, data_dir, split,
                          reference_probabilities=None, latency_runs=50,
                          threads=(1, 2), limit=None, input_name="input",
                          output_name="probabilities", test_dir=None,
                          crop_roi=False):
  """Evaluates a frozen (or transformed) GraphDef like evaluate_tflite.

  Latency is one Session.run at batch 1 in a session with intra-op threads
  = n. A session's first run optimizes the graph (seconds for AlexNet), so
  it is the warm-up; the first thread count's session also predicts.
  """
  thread_counts = tuple(threads) if latency_runs else (None,)
  runners = [FrozenGraphRunner(graph_path, input_name, output_name, n or 0)
             for n in thread_counts]
  try:
    image_size = runners[0].image_size(graph_path)
    images, labels, class_names, tracks = load_images(
        data_dir, split, image_size, runners[0].num_classes, limit, test_dir,
        crop_roi)
    probabilities = runners[0].predict(images)
    latency = {}
    for n, runner in zip(thread_counts, runners):
      if n:
        latency[n] = lite_interpreter.time_runs(
            lambda r=runner: r.predict(images[:1]), latency_runs, warmup=5)
  finally:
    for runner in runners:
      runner.close()
  return _result(graph_path, "frozen graph", labels, tracks, probabilities,
                 class_names, reference_probabilities, latency)
