"""Shared by round_weights and quantize_weights: which Consts, ranges, chunks.

Weight tensors are processed in chunks so that a 150 MB fully-connected
matrix needs one output buffer, not several full-size temporaries.
"""

import numpy as np
from tensorflow.core.framework import types_pb2

from alexnet.graph_tools import graph_utils

CHUNK = 1 << 20  # elements per chunk (4 MB of float32)
# The C++ loops start `max` at std::numeric_limits<float>::min().
_FLT_MIN = np.float32(np.finfo(np.float32).tiny)


def float_consts(graph_def, min_elements):
  """The float32 Const nodes with at least `min_elements` elements."""
  for node in graph_def.node:
    if (node.op != "Const" or "value" not in node.attr or
        "dtype" not in node.attr):
      continue
    tensor = node.attr["value"].tensor
    if (node.attr["dtype"].type == types_pb2.DT_FLOAT and
        tensor.dtype == types_pb2.DT_FLOAT and
        graph_utils.num_elements(tensor) >= min_elements):
      yield node


def value_range(values, include_zero):
  """(min, max) as the C++ transforms compute them, in float32.

  Without include_zero (round_weights) the C++ quirk is kept: `max` starts
  at FLT_MIN, so an all-negative range reaches up to ~0. With include_zero
  (quantize_weights) the true max is used: the quirk would give an all-zero
  tensor the range [0, FLT_MIN], which the C++ tool turns into NaNs.
  """
  low = np.float32(np.min(values))
  high = np.float32(np.max(values))
  if include_zero:
    return min(low, np.float32(0)), max(high, np.float32(0))
  return low, max(high, _FLT_MIN)


def widen_degenerate(low, high, negative_moves_min):
  """Makes min != max the way the C++ code does (it differs per transform
  for negative values: round_weights sets min = 2 * max, quantize_weights
  sets max = min / 2)."""
  if low != high:
    return low, high
  if abs(low) < 1e-6:
    return low, np.float32(low + 1)
  if low > 0:
    return low, np.float32(2 * low)
  if negative_moves_min:
    return np.float32(2 * high), high
  return low, np.float32(low / 2)


def chunks(values, out):
  """Yields (input chunk, output chunk) pairs over two flat arrays."""
  for start in range(0, values.size, CHUNK):
    yield values[start:start + CHUNK], out[start:start + CHUNK]

