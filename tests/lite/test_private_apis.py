"""Pins the TensorFlow behaviour alexnet/lite/full_integer.py relies on
beyond the public API, so a TensorFlow upgrade that changes it fails here:

- QuantizationDebugger quantizes from its `calibrated_model` attribute when
  `options` is set (how the calibrated input range is pinned to 0..255);
- tensorflow.lite.python.util.modify_model_io_type retypes a quantized
  model's float input/output to uint8, keeping that range (no public API
  does this after quantization).
"""

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.python import util as tflite_util
from tensorflow.lite.tools import flatbuffer_utils

from alexnet.lite import full_integer
from alexnet.lite import interpreter


def _quantize_params(model_bytes, op_name):
  """(scale, zero_point) of the first `op_name` op's output tensor."""
  model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes))
  subgraph = model.subgraphs[0]
  wanted = getattr(schema.BuiltinOperator, op_name)
  for op in subgraph.operators:
    code = model.operatorCodes[op.opcodeIndex]
    if max(code.builtinCode, code.deprecatedBuiltinCode) == wanted:
      q = subgraph.tensors[op.outputs[0]].quantization
      return float(q.scale[0]), int(q.zeroPoint[0])
  raise AssertionError(f"no {op_name} op")


def test_debugger_quantizes_the_replaced_calibrated_model(small_graph, tiny):
  converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
      small_graph, ["input"], ["probabilities"], {"input": [1, 8, 8, 3]})
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
  converter.representative_dataset = full_integer.representative_images(
      tiny["data_dir"], "train", 8, 8)
  debugger = tf.lite.experimental.QuantizationDebugger(
      converter=converter, debug_dataset=converter.representative_dataset)
  calibrated = debugger.get_nondebug_quantized_model()
  model = flatbuffer_utils.read_model_from_bytearray(
      bytearray(debugger.calibrated_model))
  full_integer._pin_input_range(model)  # pylint: disable=protected-access
  debugger.calibrated_model = bytes(
      flatbuffer_utils.convert_object_to_bytearray(model))
  debugger.options = tf.lite.experimental.QuantizationDebugOptions()
  pinned = debugger.get_nondebug_quantized_model()
  # The input's QUANTIZE takes the pinned range 0..255: scale 1, q = x - 128.
  assert _quantize_params(pinned, "QUANTIZE") == (1.0, -128)
  assert _quantize_params(calibrated, "QUANTIZE") != (1.0, -128)

  retyped = tflite_util.modify_model_io_type(pinned, tf.uint8, tf.uint8)
  io = interpreter.io_quantization(interpreter.load(model_content=retyped))
  assert (io["input"]["dtype"], io["input"]["scale"],
          io["input"]["zero_point"]) == ("uint8", 1.0, 0)
  assert io["output"]["dtype"] == "uint8"
  images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype(
      np.float32)
  probs = interpreter.predict(interpreter.load(model_content=retyped), images)
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.05)
