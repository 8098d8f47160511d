"""toco's QUANTIZED_UINT8 path: a full-integer model from the ranges a graph
carries, with no representative data.

A quantization-aware graph (tools/train.py --quantize_delay, frozen) holds a
FakeQuant op for the weights of every convolution and matmul and for every
activation; the converter reads each range from it. For a graph without
ranges, --default_ranges_min/--default_ranges_max give every activation
that has none one range (toco's "dummy quantization": a quick size and
latency check, not an accurate model).

The input takes toco's --mean_values/--std_dev_values, real = (q - mean) /
std. AlexNet graphs take raw RGB 0..255 and standardize it themselves (in
float32, as in the post-training int8 models), so uint8 pixels need mean 0,
std 1, and other values would feed the network something else: they are
refused. The converter quantizes with int8 kernels (TensorFlow 2.21's
inference_type=uint8 makes the legacy uint8 kernels, without per-channel
weights); the int8 input and output are then retyped to the requested
uint8, int8 or float32.
"""

import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

from alexnet.core.errors import UserError
from alexnet.lite import full_integer
from alexnet.nets import quantize

PIXEL_RANGE = full_integer.PIXEL_RANGE
# Ops TFLite quantizes with weights, and the ops their ranges pass through.
_WEIGHT_OPS = ("Conv2D", "MatMul", "DepthwiseConv2dNative")
_AFTER = ("BiasAdd", "Relu", "Relu6", "Identity", "Add", "AddV2")
_BEFORE = ("MaxPool", "Reshape", "Identity", "Squeeze")
_QUANT_RANGE = {tf.uint8: (0, 255), tf.int8: (-128, 127)}


def has_ranges(graph_def):
  """Whether a GraphDef carries trained ranges (fake-quantization ops)."""
  return quantize.has_fake_quant(graph_def)


def missing_ranges(graph_def):
  """["Conv2D at node 'x' has no range on its output", ...] for each weight
  op whose input, weights or output reach no FakeQuant."""
  nodes = {n.name: n for n in graph_def.node}
  consumers = {}
  for n in graph_def.node:
    for i in n.input:
      consumers.setdefault(i.split(":")[0].lstrip("^"), []).append(n)

  def source(name, through):
    node = nodes.get(name.split(":")[0].lstrip("^"))
    while node is not None and node.op in through:
      node = nodes.get(node.input[0].split(":")[0])
    return node

  def reaches_fake_quant(node):
    while True:
      users = consumers.get(node.name, [])
      if any(u.op in quantize.FAKE_QUANT_OPS for u in users):
        return True
      users = [u for u in users if u.op in _AFTER]
      if len(users) != 1:
        return False
      node = users[0]

  problems = []
  for node in graph_def.node:
    if node.op not in _WEIGHT_OPS:
      continue
    what = f"{node.op} at node '{node.name}' has no range on its"
    data, weights = (source(node.input[i], _BEFORE) for i in (0, 1))
    if data is None or data.op not in quantize.FAKE_QUANT_OPS:
      problems.append(f"{what} input")
    elif weights is None or weights.op not in quantize.FAKE_QUANT_OPS + (
        "Const",):
      problems.append(f"{what} weights")
    elif not reaches_fake_quant(node):
      problems.append(f"{what} output")
  return problems


def input_range(graph_def, input_name):
  """The real range the graph's input takes: its FakeQuant's if the input
  feeds one directly, else raw pixels (0..255)."""
  nodes = {n.name: n for n in graph_def.node}
  for node in graph_def.node:
    if (node.op == "FakeQuantWithMinMaxVars" and
        node.input[0].split(":")[0] == input_name):
      low, high = (_constant(nodes, i) for i in node.input[1:3])
      return float(low), float(high)
  return PIXEL_RANGE


def _constant(nodes, name):
  """The value of the Const behind `name`, through Identity ops (a frozen
  variable's read)."""
  node = nodes[name.split(":")[0]]
  while node.op == "Identity":
    node = nodes[node.input[0].split(":")[0]]
  if node.op != "Const":
    raise UserError(f"the input range {name} is not a constant: freeze the "
                    "graph first (tools/freeze.py)")
  return tf.make_ndarray(node.attr["value"].tensor)


def input_stats(graph_def, input_name, input_type, mean_values=None,
                std_dev_values=None):
  """(mean, std) of the input quantization, toco's --mean_values and
  --std_dev_values; UserError if given ones contradict the graph's input."""
  kind = input_type if input_type in _QUANT_RANGE else tf.uint8
  q_low, q_high = _QUANT_RANGE[kind]
  low, high = input_range(graph_def, input_name)
  std = (q_high - q_low) / (high - low)
  mean = q_low - low * std
  if mean_values is None and std_dev_values is None:
    return mean, std
  given_mean = mean if mean_values is None else float(mean_values)
  given_std = std if std_dev_values is None else float(std_dev_values)
  if given_std <= 0:
    raise UserError(f"--std_dev_values={std_dev_values} must be > 0")
  implied = ((q_low - given_mean) / given_std, (q_high - given_mean) / given_std)
  step = (high - low) / (q_high - q_low)
  if max(abs(implied[0] - low), abs(implied[1] - high)) > step / 2:
    raise UserError(
        f"--mean_values={given_mean:g} --std_dev_values={given_std:g} map the "
        f"{kind.name} input to [{implied[0]:g}, {implied[1]:g}], but input "
        f"'{input_name}' takes [{low:g}, {high:g}]: pass --mean_values="
        f"{mean:g} --std_dev_values={std:g} (or leave both out)")
  return given_mean, given_std


def tflite_bytes(source, input_arrays, output_arrays, shape, input_type,
                 output_type, stats, default_ranges=None):
  """The converter on the graph file `source` with its ranges (and
  `default_ranges` (min, max) for activations without one); int8 kernels,
  io retyped to input_type and output_type. `stats` is (mean, std) of the
  input in input_type (uint8 for a float input)."""
  converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
      source, list(input_arrays), list(output_arrays),
      {input_arrays[0]: shape})
  converter.inference_type = tf.int8
  converter.inference_input_type = tf.int8
  mean, std = stats
  if input_type != tf.int8:  # q_int8 = q_uint8 - 128
    mean -= 128
  converter.quantized_input_stats = {input_arrays[0]: (mean, std)}
  if default_ranges:
    converter.default_ranges_stats = default_ranges
  return _retype_io(converter.convert(), input_type, output_type)


def _retype_io(data, input_type, output_type):
  """The int8 model input and output as input_type and output_type."""
  model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
  subgraph = model.subgraphs[0]
  for position, index in enumerate(subgraph.inputs):
    new = _retype_input(model, subgraph, index, input_type)
    _replace_io(model, subgraph.inputs, position, index, new, "inputs")
  for position, index in enumerate(subgraph.outputs):
    new = _retype_output(model, subgraph, index, output_type)
    _replace_io(model, subgraph.outputs, position, index, new, "outputs")
  return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _replace_io(model, io, position, old, new, kind):
  io[position] = new
  for signature in model.signatureDefs or []:
    for entry in getattr(signature, kind):
      if entry.tensorIndex == old:
        entry.tensorIndex = new


def _new_tensor(model, subgraph, like, tf_type):
  """A tensor shaped like `like` of tf_type, holding the same real values
  (uint8 zero point = int8 zero point + 128); its index."""
  tensor = schema.TensorT()
  tensor.name = like.name + b"_" + tf_type.name.encode()
  tensor.shape, tensor.shapeSignature = like.shape, like.shapeSignature
  tensor.type = {tf.uint8: schema.TensorType.UINT8,
                 tf.float32: schema.TensorType.FLOAT32}[tf_type]
  if tf_type == tf.uint8:
    tensor.quantization = schema.QuantizationParametersT()
    tensor.quantization.scale = list(like.quantization.scale)
    tensor.quantization.zeroPoint = [z + 128
                                     for z in like.quantization.zeroPoint]
  model.buffers.append(schema.BufferT())
  tensor.buffer = len(model.buffers) - 1
  subgraph.tensors.append(tensor)
  return len(subgraph.tensors) - 1


def _op(model, builtin, inputs, outputs):
  op = schema.OperatorT()
  op.opcodeIndex = full_integer._opcode_index(model, builtin)  # pylint: disable=protected-access
  op.inputs, op.outputs = inputs, outputs
  return op


def _retype_input(model, subgraph, index, tf_type):
  """The new input index: the int8 input retyped (when only DEQUANTIZE ops
  read it), or a new input QUANTIZEd into it."""
  if tf_type == tf.int8:
    return index
  tensor = subgraph.tensors[index]
  readers = [model.operatorCodes[op.opcodeIndex]
             for op in subgraph.operators if index in op.inputs]
  if tf_type == tf.uint8 and readers and all(
      max(code.builtinCode, code.deprecatedBuiltinCode) ==
      schema.BuiltinOperator.DEQUANTIZE for code in readers):
    tensor.type = schema.TensorType.UINT8
    tensor.quantization.zeroPoint = [z + 128
                                     for z in tensor.quantization.zeroPoint]
    return index
  new = _new_tensor(model, subgraph, tensor, tf_type)
  subgraph.operators.insert(
      0, _op(model, schema.BuiltinOperator.QUANTIZE, [new], [index]))
  return new


def _retype_output(model, subgraph, index, tf_type):
  """The new output index: a QUANTIZE (uint8) or DEQUANTIZE (float32) of
  the int8 output."""
  if tf_type == tf.int8:
    return index
  new = _new_tensor(model, subgraph, subgraph.tensors[index], tf_type)
  builtin = (schema.BuiltinOperator.QUANTIZE if tf_type == tf.uint8 else
             schema.BuiltinOperator.DEQUANTIZE)
  subgraph.operators.append(_op(model, builtin, [index], [new]))
  return new

