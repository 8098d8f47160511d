"""quantize_weights: store large float Consts as 8 bits plus a Dequantize.

Options:
  minimum_size: only Consts with at least this many elements (default 1024).

Each such Const `w` becomes four nodes: `w_quantized_const` (quint8),
`w_quantized_min` and `w_quantized_max` (float scalars; the range always
includes 0) and a Dequantize named `w` (mode MIN_FIRST) that turns them back
into float32 at run time, so consumers are unchanged. Values are rounded as
the C++ tool rounds them: q = round(v * s) - round(min * s), s = 255 /
(max - min), clamped to 0..255; the error is about half a step,
(max - min) / 510.

Use it to make a graph ~4x smaller on disk when the runtime is TensorFlow
(the Dequantize runs once per session run). TFLite converters do not accept
these graphs: see docs/graph_transforms.md.
"""

import numpy as np
from tensorflow.core.framework import types_pb2

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import weights


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("minimum_size",)


def _round_half_away(x):
  # Eigen's round(), like std::round, rounds halves away from zero.
  return np.copysign(np.floor(np.abs(x) + np.float32(0.5)), x)


def quantize(values, low, high):
  """float32 array -> quint8 array, as FloatTensorToQuantizedInPlace."""
  scale = np.float32(255.0 / (float(high) - float(low)))
  low_scaled = _round_half_away(np.float32(low) * scale)
  out = np.empty(values.size, np.uint8)
  for chunk, dest in weights.chunks(values.reshape(-1), out):
    q = _round_half_away(chunk * scale) - low_scaled
    np.clip(q, 0, 255, out=q)
    dest[:] = q
  return out


def _scalar_const(graph_def, name, value):
  return graph_utils.set_const(graph_def.node.add(), name,
                               np.float32(value))


def transform(graph_def, context):
  minimum_size = context.get_one_int("minimum_size", 1024)
  for node in list(weights.float_consts(graph_def, minimum_size)):
    values = context.tensors.value(node)
    low, high = weights.value_range(values, include_zero=True)
    low, high = weights.widen_degenerate(low, high, negative_moves_min=False)
    quantized = quantize(values, low, high)
    del values
    name = node.name
    device = node.device
    # The Const keeps its bytes' place in the graph under a new name; the
    # Dequantize takes over the old name so consumers need no rewiring.
    node.name = name + "_quantized_const"
    context.tensors.set_value(node, quantized, types_pb2.DT_QUINT8)
    _scalar_const(graph_def, name + "_quantized_min", low)
    _scalar_const(graph_def, name + "_quantized_max", high)
    dequantize = graph_def.node.add(name=name, op="Dequantize", device=device)
    dequantize.input.extend([name + "_quantized_const",
                             name + "_quantized_min",
                             name + "_quantized_max"])
    dequantize.attr["T"].type = types_pb2.DT_QUINT8
    dequantize.attr["mode"].s = b"MIN_FIRST"
  return graph_def
