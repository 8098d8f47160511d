"""Shared by fold_batch_norms and fold_old_batch_norms: scaling conv weights.

Both transforms multiply a convolution's (or MatMul's) weights by a
per-output-channel scale, in place, and must make sure no other node reads
the nodes they rewrite or delete.
"""

import numpy as np

from alexnet.graph_tools import graph_utils

WEIGHTED_OPS = ("Conv2D", "DepthwiseConv2dNative", "MatMul")


def fold_until_stable(fold_once, graph_def, context):
  """Runs fold_once(graph_def, protected, tensors) until it changes nothing.

  Matches can share nodes, so one pass may leave folds for the next.
  `protected` are the requested inputs and outputs, which must survive
  under their names.
  """
  protected = {graph_utils.node_name(n)
               for n in context.input_names + context.output_names}
  while fold_once(graph_def, protected, context.tensors):
    pass
  return graph_def


def output_channels(op, weights_shape):
  """How many per-channel scales the weights of `op` take."""
  if op == "DepthwiseConv2dNative":
    return weights_shape[2] * weights_shape[3]
  return weights_shape[-1]


def readers(graph_def):
  """name -> set of names of the nodes that read it (data or control)."""
  result = {}
  for node in graph_def.node:
    for inp in node.input:
      result.setdefault(graph_utils.node_name(inp), set()).add(node.name)
  return result


def only_read_by(readers_map, name, reader):
  return readers_map.get(name, set()) <= {reader}


def weighted_input(nodes, name):
  """(conv node, weights Const) when `name` is a Conv2D/Depthwise/MatMul
  whose second input is a float Const; else None."""
  conv = nodes.get(graph_utils.node_name(name))
  if conv is None or conv.op not in WEIGHTED_OPS:
    return None
  if conv.op == "MatMul" and "transpose_b" in conv.attr and (
      conv.attr["transpose_b"].b):
    return None
  inputs = graph_utils.data_inputs(conv)
  weights = nodes.get(graph_utils.node_name(inputs[1])) if len(inputs) == 2 \
      else None
  if weights is None or weights.op != "Const":
    return None
  return conv, weights


def scale_weights(tensors, weights, scale):
  """weights *= scale per output channel, written back into the Const.

  Conv2D, DepthwiseConv2dNative and MatMul weights all keep output channels
  in the innermost dimension(s).
  """
  values = tensors.value(weights, writable=True)
  values.reshape(-1, scale.size)[...] *= scale.astype(np.float32)
  tensors.set_value(weights, values)
