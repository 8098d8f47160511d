"""Rewrites LRN nodes of a frozen graph as ops with integer kernels.

TFLite's LOCAL_RESPONSE_NORMALIZATION has only a float kernel, so in a
full-integer AlexNet each LRN runs in float between a DEQUANTIZE and a
QUANTIZE: fine on a CPU, impossible on integer-only accelerators (NPUs, Edge
TPU). The same function written with quantizable ops,

  lrn(x) = x * s^-beta,  s = bias + alpha * (sum of x^2 over the channel
                                            window, a 1x1 conv with a band
                                            of ones),
  s^-0.75 = rsqrt(s) * sqrt(rsqrt(s)),  s^-0.5 = rsqrt(s),

runs entirely in int8. The rewrite is exact in float (up to rounding); only
the usual quantization error is added. LRNs with other beta values are kept.

On x86 with XNNPACK the rewritten int8 AlexNet is slower than the one with
the float fallback (BENCHMARKS.md): the integer RSQRT/SQRT kernels are not
delegated. So conversion keeps LRN unless asked (--lower_lrn).
"""

import numpy as np
import tensorflow as tf

from alexnet.graph_tools import graph_io

_LOWERED_BETAS = (0.5, 0.75)


def _lowered(x, depth_radius, bias, alpha, beta):
  depth = x.shape[-1]
  channel = np.arange(depth)
  band = (abs(channel[:, None] - channel[None, :]) <= depth_radius)
  # x * x, not tf.square: TFLite has no integer SQUARE kernel.
  window_sum = tf.nn.conv2d(x * x, band.astype(np.float32)[None, None],
                            strides=1, padding="VALID")
  inv_sqrt = tf.math.rsqrt(bias + alpha * window_sum)
  scale = inv_sqrt * tf.sqrt(inv_sqrt) if beta == 0.75 else inv_sqrt
  return x * scale


def _replacement_nodes(node, input_shape):
  """NodeDefs computing `node` (an LRN) from its input, ending in a node of
  the same name so its consumers stay connected."""
  attrs = {k: node.attr[k].f for k in ("bias", "alpha", "beta")}
  depth_radius = node.attr["depth_radius"].i
  input_name = node.input[0]
  with tf.Graph().as_default() as scratch:
    # A stand-in for the real input, under the real input's name.
    x = tf.compat.v1.placeholder(tf.float32, input_shape, name=input_name)
    with tf.name_scope(f"{node.name}_lowered"):
      y = _lowered(x, depth_radius, **attrs)
    tf.identity(y, name=node.name)
  return [n for n in scratch.as_graph_def().node if n.name != input_name]


def lower_lrn(graph_def):
  """Returns (new GraphDef, names of the LRN nodes rewritten)."""
  graph = graph_io.import_graph(graph_def)
  lowered = tf.compat.v1.GraphDef()
  lowered.versions.CopyFrom(graph_def.versions)
  lowered.library.CopyFrom(graph_def.library)
  rewritten = []
  for node in graph_def.node:
    shape = None
    if node.op == "LRN" and ":" not in node.input[0] and (
        node.attr["beta"].f in _LOWERED_BETAS):
      shape = graph.get_operation_by_name(node.name).inputs[0].shape
    if shape is None or shape[-1] is None:
      lowered.node.add().CopyFrom(node)
      continue
    lowered.node.extend(_replacement_nodes(node, shape))
    rewritten.append(node.name)
  return lowered, rewritten
