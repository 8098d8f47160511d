"""Full-integer (int8) quantization of an AlexNet graph, as toco's
QUANTIZED_UINT8 path did, with the input kept as raw camera bytes.

The calibrated range of the input tensor is replaced by exactly [0, 255]
before quantization, so the input quantization is scale 1.0 with zero_point
0 (uint8: q = pixel) or -128 (int8: q = pixel - 128): a phone feeds the
camera's bytes unchanged. Calibration alone would give the range of whatever
pixels the sample happened to contain. The per-image standardization ops stay
float32 inside the int8 model (dequantize, a few elementwise ops on one
image, quantize): quantized, they fail on dark, low-contrast images (see
_scope_outputs). `float_layers` keeps whole network layers float32 the same
way: on x86 CPUs without 8-bit dot-product instructions XNNPACK's int8 conv1
(3 input channels) is slower than its float one (BENCHMARKS.md profiles it
by layer).
"""

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import convert as tflite_convert
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.python import util as tflite_util
from tensorflow.lite.tools import flatbuffer_utils
from tqdm import tqdm

from alexnet.core.errors import UserError
from alexnet.datasets import tfrecord_reader
from alexnet.nets import alexnet as alexnet_net

PIXEL_RANGE = (0.0, 255.0)


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


def quantize(converter, input_type, output_type, float_layers, graph_path):
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
