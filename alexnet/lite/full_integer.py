"""Full-integer (int8) quantization of an AlexNet graph, as toco's
QUANTIZED_UINT8 path did, with the input kept as raw camera bytes.

The calibrated range of the input tensor is replaced by exactly [0, 255]
before quantization, so the input quantization is scale 1.0 with zero_point
0 (uint8: q = pixel) or -128 (int8: q = pixel - 128): a phone feeds the
camera's bytes unchanged. Calibration alone would give the range of whatever
pixels the sample happened to contain. The per-image standardization ops stay
float32 inside the int8 model (dequantize, a few elementwise ops on one
image, quantize): quantized, they fail on dark, low-contrast images (see
_scope_outputs); so does a spatial transformer's sampler, whose pixel
coordinates need more than 8 bits. `float_layers` keeps whole network
layers float32 the same way: on x86 CPUs without 8-bit dot-product instructions XNNPACK's int8 conv1
(3 input channels) is slower than its float one (BENCHMARKS.md profiles it
by layer).
"""

import io

import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.python import util as tflite_util
from tensorflow.lite.tools import flatbuffer_utils
from tqdm import tqdm

from alexnet.core.errors import UserError
from alexnet.datasets import tfrecord_reader
from alexnet.lite import layer_errors
from alexnet.nets import alexnet as alexnet_net
from alexnet.nets import spatial_transformer

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
      yield [images]

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


def quantize(converter, input_type, output_type, float_layers, graph_path,
             layer_report=False):
  """Calibrates, pins the input range, quantizes all but the standardization
  and the float layers, sets the io types.

  float_layers: layer names and at most one "auto:N", the N layers with the
  largest quantization error (alexnet.lite.layer_errors). Returns (model
  bytes, the layers kept float, the per-layer error rows of the written
  model, or None unless `layer_report`).
  """
  named, worst = layer_errors.parse_float_layers(float_layers)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
  # QuantizationDebugger is TensorFlow's public API that calibrates through
  # the converter (building a debug model it does not need here), quantizes
  # the calibrated model with nodes denylisted, and measures each layer's
  # error. Its `calibrated_model` is replaced by the one with the input range
  # pinned; tests/lite/test_private_apis.py pins that it quantizes that one.
  debugger = tf.lite.experimental.QuantizationDebugger(
      converter=converter, debug_dataset=converter.representative_dataset)
  model = flatbuffer_utils.read_model_from_bytearray(
      bytearray(debugger.calibrated_model))
  _pin_input_range(model)
  debugger.calibrated_model = bytes(
      flatbuffer_utils.convert_object_to_bytearray(model))
  denylisted = _scope_outputs(model, alexnet_net.STANDARDIZE_SCOPE)
  denylisted += _scope_outputs(model, spatial_transformer.SAMPLER_SCOPE)
  denylisted += _layer_outputs(model, named, graph_path)
  rows = None
  if worst or layer_report:
    rows = _layer_errors(debugger, denylisted)
  kept = list(named)
  if worst:
    chosen = layer_errors.worst_layers(rows, worst, exclude=named)
    kept += chosen
    denylisted += _layer_outputs(model, chosen, graph_path)
    rows = None
  if rows is None and layer_report:
    rows = _layer_errors(debugger, denylisted)
  # Setting `options` would rebuild the debug model; the quantized model
  # only needs the denylist.
  debugger.options.denylisted_nodes = denylisted or None
  quantized = debugger.get_nondebug_quantized_model()
  return _set_io_types(quantized, input_type, output_type, denylisted), kept, rows


def _options(denylisted):
  return tf.lite.experimental.QuantizationDebugOptions(
      denylisted_nodes=denylisted or None)


def _layer_errors(debugger, denylisted):
  """Runs the debug model quantized with `denylisted` float on the debug
  images; the per-op error rows."""
  debugger.options = _options(denylisted)
  debugger.run()
  dump = io.StringIO()
  debugger.layer_statistics_dump(dump)
  return layer_errors.rows_from_dump(dump.getvalue())


def _layer_outputs(model, layers, graph_path):
  outputs = []
  for layer in layers:
    found = _scope_outputs(model, layer)
    if not found:
      raise UserError(f"{graph_path} has no layer '{layer}' to keep float: "
                      "pass layer names such as conv1 (summarize_graph "
                      "lists the nodes) or auto:N")
    outputs += found
  return outputs


def _set_io_types(quantized, input_type, output_type, denylisted):
  # modify_model_io_type has no public equivalent for an already quantized
  # model (the converter's inference_input_type applies only inside
  # convert()); tests/lite/test_private_apis.py pins what it does.
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
