"""Running .tflite models with LiteRT: predictions and latency.

LiteRT (ai_edge_litert) replaces the deprecated tf.lite.Interpreter; its
default delegate is XNNPACK, which stays on. Inputs are raw RGB 0..255; for
integer inputs they are quantized with the model's own scale/zero_point and
integer outputs are dequantized, so every variant returns float
probabilities.
"""

import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from alexnet.core.errors import UserError, first_line
from alexnet.lite import flatbuffer


def load(model_path=None, model_content=None, num_threads=1, xnnpack=True):
  """An allocated LiteRT interpreter for a file or bytes (`model_path`, if
  given with them, names the file they came from).

  The checked .tflite loader: a model LiteRT refuses (truncated, corrupt
  flatbuffer, unknown ops) is a UserError naming the file.
  xnnpack=False runs TFLite's built-in kernels only (for profiling: XNNPACK
  is what phones and every other caller here use).
  """
  if model_content is None:
    model_content = flatbuffer.read_tflite(model_path)
  resolver = (OpResolverType.AUTO if xnnpack else
              OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
  try:
    interpreter = Interpreter(model_content=model_content,
                              num_threads=num_threads,
                              experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
  except (ValueError, RuntimeError) as e:
    raise UserError(f"{model_path or 'the model'} is not a valid TensorFlow "
                    f"Lite model ({first_line(e)}): it is truncated or corrupt; "
                    "convert it again with tools/convert.py") from None
  return interpreter


def io_quantization(interpreter):
  """{"input": {...}, "output": {...}}: dtype, shape, scale, zero_point."""
  io = {}
  for key, details in (("input", interpreter.get_input_details()[0]),
                       ("output", interpreter.get_output_details()[0])):
    scale, zero_point = details["quantization"]
    io[key] = {"dtype": np.dtype(details["dtype"]).name,
               "shape": [int(d) for d in details["shape"]],
               "scale": float(scale), "zero_point": int(zero_point)}
  return io


def input_image_size(interpreter, model_path):
  """Image side of a [1, S, S, 3] input; UserError for other shapes."""
  shape = [int(d) for d in interpreter.get_input_details()[0]["shape"]]
  if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
    raise UserError(f"{model_path} input shape {shape} is not [1, S, S, 3]: "
                    "pass an image classifier converted by tools/convert.py")
  return int(shape[1])


def quantize_input(images, details):
  """Raw float images -> the input tensor's dtype (quantized if integer)."""
  dtype = details["dtype"]
  if not np.issubdtype(dtype, np.integer):
    return images.astype(dtype)
  scale, zero_point = details["quantization"]
  info = np.iinfo(dtype)
  q = np.round(images / scale + zero_point)
  return np.clip(q, info.min, info.max).astype(dtype)


def dequantize_output(values, details):
  if not np.issubdtype(details["dtype"], np.integer):
    return values.astype(np.float32)
  scale, zero_point = details["quantization"]
  return (values.astype(np.float32) - zero_point) * scale


def predict(interpreter, images):
  """Float probabilities [N, C] for raw RGB images [N, S, S, 3], one at a time."""
  inp = interpreter.get_input_details()[0]
  out = interpreter.get_output_details()[0]
  rows = []
  for image in images:
    interpreter.set_tensor(inp["index"], quantize_input(image[None], inp))
    interpreter.invoke()
    rows.append(dequantize_output(interpreter.get_tensor(out["index"]), out)[0])
  return np.stack(rows)


def latency_stats(seconds):
  """{"median_ms", "p90_ms", "runs"} of per-run times in seconds."""
  ms = np.asarray(seconds) * 1000.0
  return {"median_ms": float(np.median(ms)),
          "p90_ms": float(np.percentile(ms, 90)), "runs": int(ms.size)}


def time_runs(run, runs, warmup):
  """Calls run() `warmup` times untimed, then times `runs` calls."""
  for _ in range(warmup):
    run()
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return latency_stats(times)


def ready(model_content, image, num_threads, xnnpack=True):
  """An interpreter of the model with `image` set as its input."""
  interpreter = load(model_content=model_content, num_threads=num_threads,
                     xnnpack=xnnpack)
  inp = interpreter.get_input_details()[0]
  interpreter.set_tensor(inp["index"], quantize_input(image[None], inp))
  return interpreter


def random_image(size, seed=0):
  """A [size, size, 3] float32 image of uniform raw pixels, for timing:
  latency does not depend on the pixel values."""
  return np.random.default_rng(seed).uniform(0, 255, (size, size, 3)).astype(
      np.float32)


def measure_latency(model_content, image, num_threads, runs=50, warmup=5):
  """Batch-1 latency of one invoke at `num_threads`, median and p90."""
  return time_runs(ready(model_content, image, num_threads).invoke, runs,
                   warmup)
