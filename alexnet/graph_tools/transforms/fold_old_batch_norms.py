"""fold_old_batch_norms: fold monolithic batch norm ops into convolution weights.

Options: none.

Finds BatchNormWithGlobalNormalization, FusedBatchNorm, FusedBatchNormV2 or
FusedBatchNormV3 (inference mode) whose input is a Conv2D or
DepthwiseConv2dNative with Const weights and whose mean, variance, offset
(beta) and scale (gamma) are Consts. With s = gamma / sqrt(variance + eps)
(no gamma when BatchNormWithGlobalNormalization has
scale_after_normalization=false) the weights are multiplied by s and the
batch norm becomes BiasAdd(conv, CONV_bn_offset) with
CONV_bn_offset = beta - mean * s, under the batch norm's name.

Use it on frozen graphs built with tf.nn.fused_batch_norm or
tf.compat.v1.nn.batch_norm_with_global_normalization; pair it with
fold_batch_norms for the separate-ops form. A match is skipped when another
node reads the convolution, its weights, the statistics, or any output of
the batch norm other than the first, or when a statistic is a requested
output.
"""

import numpy as np

from alexnet.graph_tools import folding
from alexnet.graph_tools import graph_utils

_FUSED = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
_OLD = "BatchNormWithGlobalNormalization"


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def _scale_and_offset(bn, consts):
  """Per-channel (scale, offset) in float32, as the C++ tool computes them."""
  if bn.op == _OLD:
    mean, variance, beta, gamma = consts
    eps = np.float32(bn.attr["variance_epsilon"].f)
    use_gamma = bn.attr["scale_after_normalization"].b
  else:
    gamma, beta, mean, variance = consts
    eps = np.float32(bn.attr["epsilon"].f)
    use_gamma = True
  scale = np.float32(1) / np.sqrt(variance + eps, dtype=np.float32)
  if use_gamma:
    scale = scale * gamma
  offset = -mean * scale + beta
  return scale.astype(np.float32), offset.astype(np.float32)


def _bias_add(bn, conv, offset_name):
  """Rewrites the batch norm node in place into BiasAdd(conv, offset)."""
  name = bn.name
  device = bn.device
  bn.Clear()
  bn.name = name
  bn.op = "BiasAdd"
  bn.device = device
  bn.input.extend([conv.name, offset_name])
  bn.attr["T"].CopyFrom(conv.attr["T"])
  if "data_format" in conv.attr:
    bn.attr["data_format"].CopyFrom(conv.attr["data_format"])


def _fold_once(graph_def, protected, tensors):
  nodes = graph_utils.node_map(graph_def)
  readers = folding.readers(graph_def)
  removed = set()
  changed = False
  for bn in list(graph_def.node):
    if bn.op not in _FUSED + (_OLD,):
      continue
    if bn.op in _FUSED and "is_training" in bn.attr and (
        bn.attr["is_training"].b):
      continue
    inputs = graph_utils.data_inputs(bn)
    match = folding.weighted_input(nodes, inputs[0]) if len(inputs) == 5 \
        else None
    stats = [nodes.get(graph_utils.node_name(i)) for i in inputs[1:]]
    if match is None or any(s is None or s.op != "Const" for s in stats):
      continue
    conv, weights = match
    if conv.op == "MatMul" or {conv.name, weights.name} & removed or (
        {s.name for s in stats} & protected):
      continue
    if any(graph_utils.output_index(i) != 0 and graph_utils.node_name(i) ==
           bn.name for n in graph_def.node for i in n.input):
      continue
    consts = [tensors.value(s).astype(np.float32) for s in stats]
    channels = folding.output_channels(conv.op, tensors.value(
        weights).shape)
    if any(c.shape != (channels,) for c in consts):
      continue
    if not (folding.only_read_by(readers, conv.name, bn.name) and
            folding.only_read_by(readers, weights.name, conv.name) and
            all(folding.only_read_by(readers, s.name, bn.name)
                for s in stats)):
      continue
    scale, offset = _scale_and_offset(bn, consts)
    folding.scale_weights(tensors, weights, scale)
    offset_name = conv.name + "_bn_offset"
    graph_utils.set_const(graph_def.node.add(), offset_name, offset)
    _bias_add(bn, conv, offset_name)
    removed.update(s.name for s in stats)
    changed = True
  if removed:
    graph_utils.keep_nodes(graph_def,
                           {n.name for n in graph_def.node} - removed)
  return changed


def transform(graph_def, context):
  return folding.fold_until_stable(_fold_once, graph_def, context)
