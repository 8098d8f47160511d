"""Frozen GraphDef -> TensorFlow Lite, with optional post-training quantization.

Modes (`quantize`):
  none     float32 model.
  dynamic  dynamic-range: int8 weights, float activations (hybrid kernels).
  float16  float16 weights, dequantized to float32 at load time.
  int8     full integer: int8 weights and activations, calibrated on
           representative images; input/output float32, uint8 or int8
           (alexnet.lite.full_integer).

The AlexNet graph normalizes its input itself, so every variant takes raw
RGB pixels. toco's flags (--inference_type and friends) map onto these modes
in `resolve_types`. The result carries metadata (labels, normalization) and
is written atomically, with labels.txt beside it.
"""

import os
import re
import tempfile

import tensorflow as tf
from tensorflow.lite.python.convert_phase import ConverterError

from alexnet.core import atomic_files
from alexnet.core import config
from alexnet.core.errors import UserError
from alexnet.datasets import signnames
from alexnet.datasets import tfrecord_reader
from alexnet.graph_tools import graph_io
from alexnet.lite import flatbuffer
from alexnet.lite import full_integer
from alexnet.lite import interpreter
from alexnet.lite import layer_errors
from alexnet.lite import metadata
from alexnet.lite import trained_ranges
from alexnet.lite.lower_lrn import lower_lrn as lower_lrn_nodes

QUANTIZE_MODES = config.QUANTIZE_MODES
# toco's type names.
IO_TYPES = {"FLOAT": tf.float32, "QUANTIZED_UINT8": tf.uint8, "INT8": tf.int8}

# "loc(fused["Igamma:", "node/name"]): error: 'tf.Igamma' op is neither ..."
_UNSUPPORTED_OP = re.compile(
    r"loc\(fused\[\"(\w+):\", \"([^\"]+)\"\]\):[^\n]*?'tf\.\w+' op is neither")


def unsupported_ops(message):
  """[(op type, node name)] that the converter named as not convertible."""
  return sorted(set(_UNSUPPORTED_OP.findall(message)))


def _converter_error(graph_path, error):
  message = str(error)
  bad = unsupported_ops(message)
  if bad:
    listed = ", ".join(f"op {op} at node '{node}'" for op, node in bad)
    raise UserError(f"{graph_path}: TensorFlow Lite cannot convert {listed}: "
                    "replace it in the network or the transform step") from None
  first = next((l for l in message.splitlines() if "error" in l), message)
  raise UserError(f"{graph_path}: conversion failed: {first.strip()}") from None


def resolve_types(quantize, inference_type, input_type, output_type):
  """Maps toco-style flags to (quantize mode, input tf type, output tf type).

  inference_type=QUANTIZED_UINT8 means full-integer quantization with uint8
  input and output, as toco produced. The output type defaults to the input
  type. Integer input/output types exist only for full-integer models.
  """
  for flag, value in (("inference_type", inference_type),
                      ("inference_input_type", input_type),
                      ("inference_output_type", output_type)):
    if value is not None and value not in IO_TYPES:
      raise UserError(f"--{flag}={value} is not one of {', '.join(IO_TYPES)}")
  if quantize not in QUANTIZE_MODES:
    raise UserError(f"--quantize={quantize} is not one of "
                    f"{', '.join(QUANTIZE_MODES)}")
  if inference_type == "QUANTIZED_UINT8":
    if quantize not in ("none", "int8"):
      raise UserError(f"--inference_type=QUANTIZED_UINT8 means full-integer "
                      f"quantization; it conflicts with --quantize={quantize}")
    quantize = "int8"
    input_type = input_type or "QUANTIZED_UINT8"
  input_type = input_type or "FLOAT"
  output_type = output_type or input_type
  if quantize != "int8" and (input_type, output_type) != ("FLOAT", "FLOAT"):
    raise UserError(f"integer input/output types need --quantize=int8 "
                    f"(got --quantize={quantize}, input {input_type}, "
                    f"output {output_type})")
  return quantize, IO_TYPES[input_type], IO_TYPES[output_type]


def _check_representative_data(data_dir, split, image_size, num_classes,
                               image_flag):
  if image_flag and image_flag != image_size:
    raise UserError(f"--image_size={image_flag} does not match the graph's "
                    f"input {image_size}x{image_size}: calibrate at the "
                    "model's input size")
  return tfrecord_reader.check_split(data_dir, split, num_classes)


def convert_frozen_graph(graph_path, output_path, input_arrays=("input",),
                         output_arrays=("probabilities",), input_shapes=None,
                         quantize="none", inference_type=None,
                         inference_input_type=None, inference_output_type=None,
                         representative_data=None, representative_split="train",
                         representative_samples=100, image_size=None,
                         class_names=None, model_name="AlexNet GTSRB",
                         lower_lrn=False, float_layers=(), crop_roi=False,
                         layer_report=False, mean_values=None,
                         std_dev_values=None, default_ranges_min=None,
                         default_ranges_max=None):
  """Converts a frozen classification graph to a .tflite file.

  A fake-quantized graph (quantization-aware training) converts to int8 from
  its trained ranges, with no representative data; so does a graph without
  ranges given default_ranges_min/max (alexnet.lite.trained_ranges, toco's
  QUANTIZED_UINT8 path; mean_values/std_dev_values are toco's input stats).

  crop_roi: the calibration images are cropped to the sign's ROI when read
  (for models trained on crops from full-image TFRecords).

  lower_lrn rewrites LRN nodes with integer-capable ops first (see
  alexnet.lite.lower_lrn), so in an int8 model only the input's per-image
  standardization stays float (see alexnet.lite.full_integer); on CPUs the lowered LRN
  is slower than LRN's float kernel. float_layers (int8 only) names network
  layers, such as "conv1", to keep float32 inside the int8 model, and
  "auto:N" the N with the largest quantization error. layer_report (int8
  only) measures each quantized layer's error in the written model
  (alexnet.lite.layer_errors) and writes it beside the model as
  NAME_layers.csv and NAME_layers.png.

  Writes `output_path` (with metadata: labels and input normalization) and
  labels.txt beside it, both atomically. Returns a dict describing the
  result: paths, size, input/output type and quantization, ops, float
  fallbacks, the layers kept float, the layer error rows (or None).
  """
  quantize, input_type, output_type = resolve_types(
      quantize, inference_type, inference_input_type, inference_output_type)
  if float_layers and quantize != "int8":
    raise UserError(f"--float_layers={','.join(float_layers)} keeps layers "
                    f"float inside an int8 model: it needs --quantize=int8, "
                    f"not {quantize}")
  if layer_report and quantize != "int8":
    raise UserError("--layer_report measures the layers of an int8 model: it "
                    f"needs --quantize=int8, not {quantize}")
  graph_def = graph_io.load_graph_def(graph_path)
  inputs, outputs = graph_io.io_tensors(graph_io.import_graph(graph_def, graph_path),
                                      graph_path, input_arrays[0],
                                      output_arrays[0])
  graph_shape, num_classes = inputs.shape.as_list(), outputs.shape[-1]
  shape = list(input_shapes[0]) if input_shapes else [1] + graph_shape[1:]
  if None in shape[1:] or len(shape) != 4:
    raise UserError(f"input shape {shape} of {graph_path} is not "
                    "[1, height, width, 3]: pass --input_shapes=1,S,S,3")
  if graph_shape[1:] and None not in graph_shape[1:] and (
      graph_shape[1:] != shape[1:]):
    raise UserError(f"--input_shapes={','.join(map(str, shape))} does not "
                    f"match the graph's input {graph_shape}")
  ranges = _check_ranges(graph_path, graph_def, quantize, input_arrays[0],
                         input_type, representative_data, float_layers,
                         layer_report, mean_values, std_dev_values,
                         default_ranges_min, default_ranges_max)
  if quantize == "int8" and not ranges:
    if not representative_data:
      raise UserError("--quantize=int8 needs --representative_data=TFRECORDS_"
                      "DIR for calibration (or a quantization-aware graph, or "
                      "--default_ranges_min/--default_ranges_max)")
    manifest = _check_representative_data(
        representative_data, representative_split, shape[1], num_classes,
        image_size)
    class_names = class_names or tfrecord_reader.class_names(manifest)
  class_names = list(class_names or signnames.class_names(num_classes))

  with tempfile.TemporaryDirectory() as tmp:
    source, lowered = graph_path, []
    if lower_lrn:
      graph_def, lowered = lower_lrn_nodes(graph_def)
      source = os.path.join(tmp, "lowered.pb")
      with open(source, "wb") as f:
        f.write(graph_def.SerializeToString())
    if ranges:
      try:
        model = trained_ranges.tflite_bytes(
            source, input_arrays, output_arrays, shape, input_type,
            output_type, ranges["stats"], ranges["default"])
      except ConverterError as e:
        _converter_error(graph_path, e)
      kept, rows = (), None
    else:
      model, kept, rows = _convert(
          source, input_arrays, output_arrays, shape, quantize, input_type,
          output_type, representative_data, representative_split,
          representative_samples, graph_path, float_layers, crop_roi,
          layer_report)
  model = metadata.populate(
      model, class_names, model_name,
      f"Traffic sign classifier ({len(class_names)} classes), {quantize} "
      "quantization" + (f" ({ranges['kind']} ranges)" if ranges else "") +
      (f" ({', '.join(kept)} float)" if kept else "") +
      "; input raw RGB 0..255")
  atomic_files.atomic_write(output_path, model)
  labels_path = os.path.join(os.path.dirname(os.path.abspath(output_path)),
                             metadata.LABELS_FILE)
  atomic_files.atomic_write(labels_path, metadata.labels_text(class_names))
  info = dict(describe(model, output_path, labels_path, quantize),
              lowered_lrn=lowered, float_layers=kept, layer_errors=rows,
              ranges=ranges)
  if rows:
    base = os.path.splitext(output_path)[0]
    info["layer_errors_csv"], info["layer_errors_png"] = layer_errors.write(
        rows, base + "_layers.csv", base + "_layers.png",
        f"{os.path.basename(output_path)}: int8 error by layer")
  return info


def _check_ranges(graph_path, graph_def, quantize, input_name, input_type,
                  representative_data, float_layers, layer_report,
                  mean_values, std_dev_values, default_ranges_min,
                  default_ranges_max):
  """None for a conversion without the graph's own ranges, else {"kind":
  "trained" or "default", "stats": input (mean, std), "default": (min, max)
  or None, "missing": the ops without a trained range}; UserError for flags
  that contradict the graph."""
  fake_quant = trained_ranges.has_ranges(graph_def)
  if (default_ranges_min is None) != (default_ranges_max is None):
    raise UserError("--default_ranges_min and --default_ranges_max go "
                    "together: pass both")
  default = (None if default_ranges_min is None else
             (float(default_ranges_min), float(default_ranges_max)))
  if default and default[0] >= default[1]:
    raise UserError(f"--default_ranges_min={default[0]:g} is not below "
                    f"--default_ranges_max={default[1]:g}")
  if fake_quant and quantize in ("dynamic", "float16"):
    raise UserError(f"{graph_path} is fake-quantized (quantization-aware "
                    f"training): --quantize={quantize} would ignore its "
                    "trained ranges; convert it with "
                    "--inference_type=QUANTIZED_UINT8")
  if quantize != "int8" or not (fake_quant or default):
    if mean_values is not None or std_dev_values is not None or default:
      raise UserError("--mean_values, --std_dev_values and --default_ranges_"
                      "min/max apply to --inference_type=QUANTIZED_UINT8 "
                      "without representative data")
    return None
  if representative_data:
    raise UserError(
        f"{graph_path} carries trained ranges (fake-quant ops): drop "
        "--representative_data" if fake_quant else
        "--default_ranges_min/max replace calibration: drop them or "
        "--representative_data")
  if float_layers or layer_report:
    flag = (f"--float_layers={','.join(float_layers)}" if float_layers
            else "--layer_report")
    raise UserError(f"{flag} needs calibration (--representative_data), "
                    "not trained or default ranges")
  missing = trained_ranges.missing_ranges(graph_def)
  if missing and not default:
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    raise UserError(f"{graph_path}: {missing[0]}{more}: train it with "
                    "tools/train.py --quantize_delay, or pass "
                    "--default_ranges_min and --default_ranges_max")
  return {"kind": "trained" if fake_quant else "default",
          "stats": trained_ranges.input_stats(graph_def, input_name,
                                              input_type, mean_values,
                                              std_dev_values),
          "default": default, "missing": missing}


def tflite_bytes(source, input_arrays, output_arrays, shape, quantize="none",
                 input_type=tf.float32, output_type=tf.float32,
                 representative_data=None, representative_split="train",
                 representative_samples=100, graph_path=None,
                 float_layers=(), crop_roi=False):
  """Runs the TFLite converter on the graph file `source`; returns bytes.

  The conversion of convert_frozen_graph without its checks and metadata, so
  any tensor can be the output (benchmarks/profile_tflite.py converts the net
  cut after each layer). Errors name `graph_path` (default: `source`).
  """
  return _convert(source, input_arrays, output_arrays, shape, quantize,
                  input_type, output_type, representative_data,
                  representative_split, representative_samples,
                  graph_path or source, float_layers, crop_roi)[0]


def _convert(source, input_arrays, output_arrays, shape, quantize, input_type,
             output_type, representative_data, representative_split,
             representative_samples, graph_path, float_layers, crop_roi,
             layer_report=False):
  """tflite_bytes' conversion; returns (bytes, layers kept float, layer
  error rows or None)."""
  converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
      source, list(input_arrays), list(output_arrays),
      {input_arrays[0]: shape})
  if quantize != "none":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantize == "float16":
    converter.target_spec.supported_types = [tf.float16]
  try:
    if quantize == "int8":
      converter.representative_dataset = full_integer.representative_images(
          representative_data, representative_split, shape[1],
          representative_samples, crop_roi)
      return full_integer.quantize(converter, input_type, output_type,
                                   float_layers, graph_path, layer_report)
    return converter.convert(), [], None
  except ConverterError as e:
    _converter_error(graph_path, e)


def describe(model, path, labels_path=None, quantize=None):
  """Summary of a converted model: io types and quantization, ops."""
  ops = flatbuffer.list_ops(model)
  return {"path": path, "labels_path": labels_path, "quantize": quantize,
          "size_bytes": len(model),
          **interpreter.io_quantization(interpreter.load(model_content=model)),
          "ops": flatbuffer.summarize_ops(ops),
          "float_fallback_ops": flatbuffer.float_fallback_ops(ops)}
