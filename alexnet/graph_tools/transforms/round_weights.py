"""round_weights: round large float Consts to `num_steps` evenly spaced levels.

Options:
  num_steps: how many levels per tensor (default 256).

For every float32 Const with at least 16 elements the range [min, max] is
cut into num_steps buckets and each value becomes the centre of its bucket,
exactly as the C++ tool computes it (float32 arithmetic; like the C++ code,
`max` starts at the smallest positive float, so an all-negative tensor's
range reaches up to ~0). The graph keeps its structure and size; it only
compresses far better (zip/gzip), since each tensor has at most
num_steps + 1 distinct values. The error per value is at most half a bucket:
(max - min) / (2 * num_steps).

Use it to shrink the download of a model whose runtime wants float weights.
"""

import numpy as np

from alexnet.graph_tools import weights
from alexnet.graph_tools.context import TransformError

_MIN_ELEMENTS = 16


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("num_steps",)


def _round(values, num_steps, out):
  low, high = weights.value_range(values, include_zero=False)
  low, high = weights.widen_degenerate(low, high, negative_moves_min=True)
  width = np.float32((high - low) / np.float32(num_steps))
  # Every step writes into one chunk-sized buffer: numpy's temporaries of
  # `floor((chunk - low) / width) + 0.5` were three more chunks at the peak.
  scratch = np.empty(min(values.size, weights.CHUNK), np.float32)
  for chunk, dest in weights.chunks(values, out):
    bucket = scratch[:chunk.size]
    np.subtract(chunk, low, out=bucket)
    np.divide(bucket, width, out=bucket)
    np.floor(bucket, out=bucket)
    bucket += np.float32(0.5)
    np.multiply(bucket, width, out=dest)
    dest += low
  return out


def transform(graph_def, context):
  num_steps = context.get_one_int("num_steps", 256)
  if num_steps < 1:
    raise TransformError(f"round_weights: num_steps must be >= 1, got "
                         f"{num_steps}")
  for node in weights.float_consts(graph_def, _MIN_ELEMENTS):
    # In place where the store allows it: no second copy of the weights.
    values = context.tensors.value(node, writable=True)
    flat = values.reshape(-1)
    context.tensors.set_value(node, _round(flat, num_steps, flat).reshape(
        values.shape))
  return graph_def
