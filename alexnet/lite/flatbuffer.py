"""Reading .tflite files: the file check, the op list and float fallbacks.

Works on the flatbuffer itself (tensorflow.lite.python.schema_py_generated),
so it needs no interpreter and sees the model exactly as converted.
"""

import os

from tensorflow.lite.python import schema_py_generated as schema

from alexnet.core.errors import UserError

TFLITE_IDENTIFIER = b"TFL3"

_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items()
             if not k.startswith("_")}
TENSOR_TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items()
                     if not k.startswith("_")}
# Ops that only move data between the integer and float domains.
_CAST_OPS = frozenset(("QUANTIZE", "DEQUANTIZE"))


def read_tflite(path):
  """Returns the bytes of a .tflite file; UserError if it is not one."""
  if not os.path.isfile(path):
    raise UserError(f"{path} does not exist: pass a .tflite model file")
  with open(path, "rb") as f:
    data = f.read()
  check_tflite_bytes(data, path)
  return data


def check_tflite_bytes(data, path):
  """UserError unless `data` carries the TFLite flatbuffer identifier 'TFL3'."""
  if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
    raise UserError(f"{path} is not a TensorFlow Lite model (no 'TFL3' "
                    "flatbuffer identifier): pass a .tflite file written by "
                    "tools/convert.py")


def root_model(data):
  """The schema.Model flatbuffer view of `data` (no copy)."""
  return schema.Model.GetRootAs(data, 0)


def _op_name(model, opcode_index):
  code = model.OperatorCodes(opcode_index)
  # Codes above 127 live only in builtin_code; older ones in the deprecated
  # byte field; the larger of the two is the real one.
  builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
  if builtin == schema.BuiltinOperator.CUSTOM:
    return code.CustomCode().decode()
  return _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")


def _tensor_type(subgraph, index):
  return TENSOR_TYPE_NAMES[subgraph.Tensors(index).Type()]


def list_ops(data):
  """The main subgraph's operators in execution order.

  Returns a list of dicts {"op", "inputs", "outputs", "names"}: the op name,
  the element types of its (non-optional) input and output tensors, and its
  output tensors' names. The first
  input is the activation, so its type tells which kernel runs: float32 in an
  int8 model means the op falls back to float.
  """
  model = root_model(data)
  subgraph = model.Subgraphs(0)
  ops = []
  for i in range(subgraph.OperatorsLength()):
    op = subgraph.Operators(i)
    ops.append({
        "op": _op_name(model, op.OpcodeIndex()),
        "inputs": [_tensor_type(subgraph, t) for t in op.InputsAsNumpy()
                   if t >= 0],
        "outputs": [_tensor_type(subgraph, t) for t in op.OutputsAsNumpy()],
        "names": [subgraph.Tensors(t).Name().decode()
                  for t in op.OutputsAsNumpy()],
    })
  return ops


def kernel_type(op):
  """How an op computes: its activation type, or 'hybrid' for float
  activations with int8 weights (dynamic-range quantization)."""
  first = op["inputs"][0] if op["inputs"] else op["outputs"][0]
  if first == "float32" and "int8" in op["inputs"][1:]:
    return "hybrid"
  return first


def summarize_ops(ops):
  """'CONV_2D:int8 x5, ...' counts of op:kernel-type, in first-use order."""
  counts = {}
  for op in ops:
    key = f"{op['op']}:{kernel_type(op)}"
    counts[key] = counts.get(key, 0) + 1
  return ", ".join(f"{k} x{n}" if n > 1 else k for k, n in counts.items())


def float_fallback_ops(ops):
  """Ops that compute in float32 inside an integer-quantized model.

  A model counts as integer-quantized when some non-cast op runs int8/uint8
  kernels; then every other non-cast op computing in float32 is a fallback
  (the converter wrapped it in DEQUANTIZE/QUANTIZE). Empty for float models.
  """
  compute = [op for op in ops if op["op"] not in _CAST_OPS]
  if not any(kernel_type(op) in ("int8", "uint8") for op in compute):
    return []
  return sorted({op["op"] for op in compute if kernel_type(op) == "float32"})


def io_details(data):
  """[(name, shape, type)] of the main subgraph's inputs, then outputs."""
  subgraph = root_model(data).Subgraphs(0)

  def describe(index):
    t = subgraph.Tensors(index)
    return (t.Name().decode(), tuple(int(d) for d in t.ShapeAsNumpy()),
            TENSOR_TYPE_NAMES[t.Type()])

  return ([describe(i) for i in subgraph.InputsAsNumpy()],
          [describe(i) for i in subgraph.OutputsAsNumpy()])
