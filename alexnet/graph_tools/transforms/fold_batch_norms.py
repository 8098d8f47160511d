"""fold_batch_norms: fold a per-channel Mul after a convolution into its weights.

Options: none. Run fold_constants first.

Finds Mul(Conv2D | DepthwiseConv2dNative | MatMul(x, Const weights),
Const scale) where the scale is a vector with one value per output channel,
multiplies the weights by it, and lets the convolution take the Mul's name,
so the Mul disappears and consumers are unchanged. This is what inference-
mode batch normalization written as separate ops (x * scale + offset, e.g.
tf.nn.batch_normalization) leaves after fold_constants collapsed the scale
into one Const. Fused batch norm ops are fold_old_batch_norms' job.

A match is skipped when another node reads the convolution, its weights or
the scale (folding would change what that node sees), or when one of them
is a requested input or output. Where the scale does not have one value
per output channel the match is skipped too (the C++ tool fails instead).
"""

from alexnet.graph_tools import folding
from alexnet.graph_tools import graph_utils


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def _fold_once(graph_def, protected, tensors):
  nodes = graph_utils.node_map(graph_def)
  readers = folding.readers(graph_def)
  removed = set()
  renamed = {}
  for mul in list(graph_def.node):
    if mul.op != "Mul" or mul.name in removed:
      continue
    inputs = graph_utils.data_inputs(mul)
    if len(inputs) != 2 or graph_utils.output_index(inputs[0]) != 0:
      continue
    match = folding.weighted_input(nodes, inputs[0])
    scale_node = nodes.get(graph_utils.node_name(inputs[1]))
    if match is None or scale_node is None or scale_node.op != "Const":
      continue
    conv, weights = match
    if {conv.name, weights.name, scale_node.name} & (removed | protected):
      continue
    scale = tensors.value(scale_node)
    channels = folding.output_channels(conv.op, tensors.value(
        weights).shape)
    if scale.ndim != 1 or scale.size != channels:
      continue
    if not (folding.only_read_by(readers, conv.name, mul.name) and
            folding.only_read_by(readers, scale_node.name, mul.name) and
            folding.only_read_by(readers, weights.name, conv.name)):
      continue
    folding.scale_weights(tensors, weights, scale)
    removed.update((conv.name, scale_node.name))
    # The convolution takes the Mul's place and name.
    mul_name = mul.name
    mul.CopyFrom(conv)
    mul.name = mul_name
    renamed[conv.name] = mul_name
  if removed:
    graph_utils.update_colocation(graph_def.node, renamed)
    graph_utils.keep_nodes(graph_def,
                           {n.name for n in graph_def.node} - removed)
  return bool(removed)


def transform(graph_def, context):
  return folding.fold_until_stable(_fold_once, graph_def, context)
