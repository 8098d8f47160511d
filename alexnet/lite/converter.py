"""Frozen GraphDef -> TensorFlow Lite, with optional post-training quantization.

Modes (`quantize`):
  none     float32 model.
  dynamic  dynamic-range: int8 weights, float activations (hybrid kernels).
  float16  float16 weights, dequantized to float32 at load time.
  int8     full integer: int8 weights and activations, calibrated on
           representative images; input/output float32, uint8 or int8.

The AlexNet graph normalizes its input itself, so every variant takes raw
RGB pixels. For int8 the calibrated range of the input tensor is replaced by
exactly [0, 255] before quantization, so the input quantization is
scale 1.0 with zero_point 0 (uint8: q = pixel) or -128 (int8: q = pixel - 128):
a phone feeds the camera's bytes unchanged. Calibration alone would give the
range of whatever pixels the sample happened to contain. The per-image
standardization ops stay float32 inside the int8 model (dequantize, a few
elementwise ops on one image, quantize): quantized, they fail on dark,
low-contrast images (see _scope_outputs). `float_layers` keeps whole
network layers float32 the same way: on x86 CPUs without 8-bit dot-product
instructions XNNPACK's int8 conv1 (3 input channels) is slower than its
float one (BENCHMARKS.md profiles it by layer).
"""

import os
import re
import tempfile

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import convert as tflite_convert
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.python import util as tflite_util
from tensorflow.lite.python.convert_phase import ConverterError
from tensorflow.lite.tools import flatbuffer_utils
from tqdm import tqdm

from alexnet.core import atomic_files
from alexnet.core import config
from alexnet.datasets import signnames
from alexnet.core.errors import UserError
from alexnet.datasets import tfrecord_reader
from alexnet.lite import flatbuffer
from alexnet.graph_tools import graph_io
from alexnet.lite import interpreter
from alexnet.lite import metadata
from alexnet.lite.lower_lrn import lower_lrn as lower_lrn_nodes
from alexnet.nets import alexnet as alexnet_net

QUANTIZE_MODES = config.QUANTIZE_MODES
# toco's type names.
IO_TYPES = {"FLOAT": tf.float32, "QUANTIZED_UINT8": tf.uint8, "INT8": tf.int8}
PIXEL_RANGE = (0.0, 255.0)

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


def representative_images(data_dir, split, image_size, samples,
                          crop_roi=False):
  """Calibration generator: `samples` images, one per step, with a bar."""

  def generate():
    batches = tfrecord_reader.iterate_batches(data_dir, split, image_size,
                                              batch_size=1, limit=samples,
                                              crop_roi=crop_roi)
    for images, _ in tqdm(batches, total=samples, desc="calibrating",
                          unit="img"):
      yield [images.astype(np.float32)]

  return generate


def _pin_input_range(model):
  """Sets the calibrated range of every model input to raw pixels 0..255."""
  subgraph = model.subgraphs[0]
  for index in subgraph.inputs:
    subgraph.tensors[index].quantization.min = [PIXEL_RANGE[0]]
    subgraph.tensors[index].quantization.max = [PIXEL_RANGE[1]]


def _scope_outputs(model, scope):
  """Output tensor names of the ops built under the name scope `scope`.

  The input standardization (with input_standardization="equalize", its
  histogram ops too) is always kept float this way. In int8 the per-image
  standardization breaks: the squared deviations (up to 255^2) get a scale
  of ~100, so a dark, low-contrast image's variance rounds to 0 and the
  quantized DIV then rejects its zero divisor (the interpreter fails), while
  moderately dim images lose most of their contrast. They are a few
  elementwise ops on the input image, so they stay float32.
  """
  subgraph = model.subgraphs[0]
  names = []
  for op in subgraph.operators:
    for index in op.outputs:
      name = subgraph.tensors[index].name.decode()
      # Fused ops are named "a/b;c/d" after their TF nodes.
      if any(f"/{scope}/" in f"/{part}/" for part in name.split(";")):
        names.append(name)
  return names


def _full_integer(converter, input_type, output_type, float_layers,
                  graph_path):
  """Calibrates, pins the input range, quantizes all but the standardization
  and `float_layers`, sets the io types."""
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
  # Calibrate only: the input range is fixed and the standardization kept
  # float before quantizing (see module docstring); the rest follows what
  # converter.convert() does for int8.
  converter._experimental_calibrate_only = True  # pylint: disable=protected-access
  model = flatbuffer_utils.read_model_from_bytearray(
      bytearray(converter.convert()))
  _pin_input_range(model)
  denylisted = _scope_outputs(model, alexnet_net.STANDARDIZE_SCOPE)
  for layer in float_layers:
    outputs = _scope_outputs(model, layer)
    if not outputs:
      raise UserError(f"{graph_path} has no layer '{layer}' to keep float: "
                      "pass layer names such as conv1 (summarize_graph "
                      "lists the nodes)")
    denylisted += outputs
  quantized = tflite_convert.mlir_quantize(
      flatbuffer_utils.convert_object_to_bytearray(model),
      fully_quantize=False, denylisted_nodes=denylisted or None)
  if not denylisted:
    return tflite_util.modify_model_io_type(quantized, input_type, output_type)
  # The input now feeds float ops, not a QUANTIZE op, so modify_model_io_type
  # cannot retype it; an integer input gets its own DEQUANTIZE instead.
  quantized = tflite_util.modify_model_io_type(quantized, tf.float32,
                                               output_type)
  if input_type == tf.float32:
    return quantized
  return _integer_pixel_input(quantized, input_type)


def _integer_pixel_input(data, input_type):
  """Replaces the float32 input by a uint8/int8 one (scale 1) + DEQUANTIZE."""
  model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
  subgraph = model.subgraphs[0]
  float_input = subgraph.inputs[0]
  tensor = subgraph.tensors[float_input]
  quantized = schema.TensorT()
  quantized.name = tensor.name + b"_" + input_type.name.encode()
  quantized.shape = tensor.shape
  quantized.shapeSignature = tensor.shapeSignature
  quantized.type = {tf.uint8: schema.TensorType.UINT8,
                    tf.int8: schema.TensorType.INT8}[input_type]
  quantized.quantization = schema.QuantizationParametersT()
  quantized.quantization.scale = [1.0]
  # q = pixel (uint8) or pixel - 128 (int8), as for a fully quantized model.
  quantized.quantization.zeroPoint = [0 if input_type == tf.uint8 else -128]
  model.buffers.append(schema.BufferT())
  quantized.buffer = len(model.buffers) - 1
  subgraph.tensors.append(quantized)
  new_input = len(subgraph.tensors) - 1
  dequantize = schema.OperatorT()
  dequantize.opcodeIndex = _opcode_index(model, schema.BuiltinOperator.DEQUANTIZE)
  dequantize.inputs, dequantize.outputs = [new_input], [float_input]
  subgraph.operators.insert(0, dequantize)
  subgraph.inputs[0] = new_input
  for signature in model.signatureDefs or []:
    for entry in signature.inputs:
      if entry.tensorIndex == float_input:
        entry.tensorIndex = new_input
  return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _opcode_index(model, builtin):
  """Index of `builtin` in the model's operator codes, added if missing."""
  for index, code in enumerate(model.operatorCodes):
    if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
      code.version = max(code.version, 2)  # version 2: int8 inputs
      return index
  code = schema.OperatorCodeT()
  code.builtinCode = builtin
  code.deprecatedBuiltinCode = min(builtin, 127)
  code.version = 2
  model.operatorCodes.append(code)
  return len(model.operatorCodes) - 1


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
                         lower_lrn=False, float_layers=(), crop_roi=False):
  """Converts a frozen classification graph to a .tflite file.

  crop_roi: the calibration images are cropped to the sign's ROI when read
  (for models trained on crops from full-image TFRecords).

  lower_lrn rewrites LRN nodes with integer-capable ops first (see
  alexnet.lite.lower_lrn), so in an int8 model only the input's per-image
  standardization stays float (see _scope_outputs); on CPUs the lowered LRN
  is slower than LRN's float kernel. float_layers (int8 only) names network
  layers, such as "conv1", to keep float32 inside the int8 model.

  Writes `output_path` (with metadata: labels and input normalization) and
  labels.txt beside it, both atomically. Returns a dict describing the
  result: paths, size, input/output type and quantization, ops, float
  fallbacks.
  """
  quantize, input_type, output_type = resolve_types(
      quantize, inference_type, inference_input_type, inference_output_type)
  if float_layers and quantize != "int8":
    raise UserError(f"--float_layers={','.join(float_layers)} keeps layers "
                    f"float inside an int8 model: it needs --quantize=int8, "
                    f"not {quantize}")
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
  if quantize == "int8":
    if not representative_data:
      raise UserError("--quantize=int8 needs --representative_data=TFRECORDS_"
                      "DIR for calibration")
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
    model = tflite_bytes(source, input_arrays, output_arrays, shape,
                         quantize, input_type, output_type,
                         representative_data, representative_split,
                         representative_samples, graph_path=graph_path,
                         float_layers=float_layers, crop_roi=crop_roi)
  model = metadata.populate(
      model, class_names, model_name,
      f"Traffic sign classifier ({len(class_names)} classes), {quantize} "
      "quantization" + (f" ({', '.join(float_layers)} float)"
                        if float_layers else "") + "; input raw RGB 0..255")
  atomic_files.atomic_write(output_path, model)
  labels_path = os.path.join(os.path.dirname(os.path.abspath(output_path)),
                             metadata.LABELS_FILE)
  atomic_files.atomic_write(labels_path, metadata.labels_text(class_names))
  return dict(describe(model, output_path, labels_path, quantize),
              lowered_lrn=lowered)


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
  graph_path = graph_path or source
  converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
      source, list(input_arrays), list(output_arrays),
      {input_arrays[0]: shape})
  if quantize != "none":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantize == "float16":
    converter.target_spec.supported_types = [tf.float16]
  try:
    if quantize == "int8":
      converter.representative_dataset = representative_images(
          representative_data, representative_split, shape[1],
          representative_samples, crop_roi)
      return _full_integer(converter, input_type, output_type,
                           float_layers, graph_path)
    return converter.convert()
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
