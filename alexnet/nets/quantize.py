"""Quantization-aware training: fake quantization rewritten into a graph.

What tf.contrib.quantize.create_training_graph(quant_delay=...) and
create_eval_graph() did for TF1 graphs, for the tf.compat.v1 graphs of
alexnet.nets (tf.contrib is gone, and TensorFlow Model Optimization's QAT
works on Keras models only). The network function stays as it is;
`quantize_network` rewrites the graph it built, in place, before the loss
and the optimizer are added, so the fake quantization is in the forward and
the backward pass:

  - weights of every Conv2D and MatMul that reads a variable:
    tf.quantization.fake_quant_with_min_max_vars_per_channel (Conv2D, one
    range per output channel) or fake_quant_with_min_max_vars (MatMul: the
    TFLite converter rejects per-channel FULLY_CONNECTED weights), 8 bits,
    narrow range, symmetric (the int8 kernels need weight zero point 0),
    the range being the weights' own current extent (contrib's last-value
    ranges);
  - batch norm after a convolution is folded into it first: the
    convolution runs on weights * gamma / sqrt(moving_variance + epsilon)
    with bias beta - moving_mean * gamma / sqrt(...), so the int8
    convolution TFLite deploys is the one that was trained (the moving
    statistics keep updating from the batch statistics of the original
    convolution, as in contrib after its freeze_bn_delay);
  - activations: each layer's output (after its ReLU, or its bias for the
    logits) and the network's float input to the first layer (the output of
    the input standardization, which itself stays float32, as in the
    post-training int8 models) get fake_quant_with_min_max_vars with ranges
    LAYER/act_quant/min and /max (LAYER/input_quant/ for the input)
    learned as exponential moving averages of the batch ranges (decay
    EMA_DECAY, lower for the first steps so the initial range is soon
    forgotten), always containing 0, as contrib's MovingAvgQuantize did.

Training with quant_delay > 0 runs the float network (batch norm on batch
statistics) until the global step reaches it; the activation ranges are
learned from the first step. The eval rewrite (is_training=False) reads the
ranges and always quantizes; a frozen eval graph carries them as constants,
which is what toco's QUANTIZED_UINT8 path (alexnet.lite.converter) needs.
"""

import tensorflow as tf

NUM_BITS = 8
EMA_DECAY = 0.999  # contrib's default decay of the activation ranges
INITIAL_RANGE = (-6.0, 6.0)  # contrib's initial activation range
FAKE_QUANT_OPS = ("FakeQuantWithMinMaxVars",
                  "FakeQuantWithMinMaxVarsPerChannel",
                  "FakeQuantWithMinMaxArgs")
ACTIVATION_SCOPE = "act_quant"
INPUT_SCOPE = "input_quant"
_WEIGHT_OPS = ("Conv2D", "MatMul")
_ACTIVATIONS = ("Relu", "Relu6")
# Ops that pass their input's values on (dropout scales them while training,
# before which they were quantized): an input reached through them alone is
# already quantized.
_PASS_THROUGH = {"MaxPool": 0, "Reshape": 0, "Identity": 0, "Mul": 0,
                 "SelectV2": 1, "Select": 1}


def has_fake_quant(graph_def):
  """Whether a GraphDef holds fake-quantization ops (a QAT graph)."""
  return any(node.op in FAKE_QUANT_OPS for node in graph_def.node)


def is_range_variable(name):
  """Whether a variable name is an activation range's (absent from a float
  model's checkpoint)."""
  return any(f"/{scope}/" in name for scope in (ACTIVATION_SCOPE, INPUT_SCOPE))


def quantize_network(logits, is_training, quant_delay=0):
  """Rewrites the graph of `logits` with fake quantization (module docstring).

  Args:
    logits: the network's output; its graph is rewritten in place.
    is_training: True for the training rewrite (moving-average range
      updates, quant_delay), False for the eval/inference one.
    quant_delay: training only: global steps before quantization starts.

  Returns:
    The tensor that replaces `logits` (its fake-quantized value).
  """
  graph = logits.graph
  rewrite = _Rewrite(graph, is_training, quant_delay)
  layers = [op for op in graph.get_operations()
            if op.type in _WEIGHT_OPS and _is_variable_read(op.inputs[1])]
  if not layers:
    raise ValueError(f"no Conv2D or MatMul on a variable to quantize in the "
                     f"graph of {logits.name}")
  for op in layers:
    rewrite.layer(op)
  return rewrite.replaced.get(logits.ref(), logits)


def _is_variable_read(tensor):
  op = tensor.op
  return op.type == "Identity" and op.inputs[0].op.type in (
      "VariableV2", "Variable")


def _already_quantized(tensor):
  """Whether `tensor` is a fake-quant output seen through _PASS_THROUGH ops."""
  while True:
    op = tensor.op
    if op.type in FAKE_QUANT_OPS:
      return True
    if op.type not in _PASS_THROUGH:
      return False
    tensor = op.inputs[_PASS_THROUGH[op.type]]


def _reroute(tensor, replacement, consumers):
  """Feeds `replacement` instead of `tensor` to `consumers` (taken before
  the replacement, which consumes `tensor` itself, was built)."""
  for consumer in consumers:
    for index, t in enumerate(consumer.inputs):
      if t is tensor:
        consumer._update_input(index, replacement)  # pylint: disable=protected-access


class _Rewrite:
  """The rewrite of one graph; `replaced` maps tensors to their quantized
  replacements."""

  def __init__(self, graph, is_training, quant_delay):
    self.graph = graph
    self.is_training = is_training
    self.quant_delay = quant_delay
    self.replaced = {}
    self.global_step = None
    if is_training:
      with graph.as_default():
        self.global_step = tf.compat.v1.train.get_or_create_global_step()

  def _delayed(self, quantized, original):
    """`quantized` once the global step reaches quant_delay, else `original`."""
    if not self.is_training or self.quant_delay <= 0:
      return quantized
    # A select, not a cond: the range updates run from the first step.
    return tf.where(self.global_step >= self.quant_delay, quantized,
                    original, name="delay")

  def layer(self, op):
    """Quantizes one Conv2D/MatMul: input, (folded) weights, output."""
    scope = op.name.rsplit("/", 1)[0]
    with self.graph.as_default(), tf.name_scope(scope + "/"):
      x = op.inputs[0]
      if not _already_quantized(x):
        x = self._activation(x, scope, INPUT_SCOPE)
        op._update_input(0, x)  # pylint: disable=protected-access
      weights = op.inputs[1]
      per_channel = op.type == "Conv2D"
      consumers = op.outputs[0].consumers()
      if (len(consumers) == 1 and
          consumers[0].type.startswith("FusedBatchNorm")):
        original = consumers[0].outputs[0]
        users = original.consumers()
        out = self._fold_batch_norm(op, consumers[0], x, weights, per_channel)
        _reroute(original, out, users)
      else:
        quantized = self._delayed(_weights(weights, per_channel), weights)
        op._update_input(1, quantized)  # pylint: disable=protected-access
        out = consumers[0].outputs[0] if len(consumers) == 1 and consumers[
            0].type == "BiasAdd" else op.outputs[0]
      following = out.consumers()
      if len(following) == 1 and following[0].type in _ACTIVATIONS:
        out = following[0].outputs[0]
      users = out.consumers()
      q = self._activation(out, scope, ACTIVATION_SCOPE)
      _reroute(out, q, users)
      self.replaced[out.ref()] = q

  def _fold_batch_norm(self, op, bn, x, weights, per_channel):
    """The folded layer with fake-quantized weights, replacing `bn`'s
    output."""
    gamma, beta = bn.inputs[1], bn.inputs[2]
    if bn.get_attr("is_training"):
      bn_scope = bn.name.rsplit("/", 1)[0]
      mean = self.graph.get_tensor_by_name(f"{bn_scope}/moving_mean/read:0")
      variance = self.graph.get_tensor_by_name(
          f"{bn_scope}/moving_variance/read:0")
    else:
      mean, variance = bn.inputs[3], bn.inputs[4]
    with tf.name_scope("fold"):
      scale = gamma * tf.math.rsqrt(variance + bn.get_attr("epsilon"))
      folded = _weights(weights * scale, per_channel)
      bias = beta - mean * scale
      layer = _same_op(op, x, folded)
      out = tf.nn.bias_add(layer, bias)
    return self._delayed(out, bn.outputs[0])

  def _activation(self, tensor, scope, kind):
    """fake_quant_with_min_max_vars of `tensor` with moving-average ranges."""
    with tf.compat.v1.variable_scope(f"{scope}/{kind}"):
      low = tf.compat.v1.get_variable(
          "min", [], initializer=tf.compat.v1.constant_initializer(
              INITIAL_RANGE[0]), trainable=False, use_resource=False)
      high = tf.compat.v1.get_variable(
          "max", [], initializer=tf.compat.v1.constant_initializer(
              INITIAL_RANGE[1]), trainable=False, use_resource=False)
    with tf.name_scope(kind):
      if self.is_training:
        value = tf.stop_gradient(tensor)
        step = tf.cast(self.global_step, tf.float32)
        # As model_fn's weight averages: soon away from the initial range.
        decay = tf.minimum(EMA_DECAY, (1.0 + step) / (10.0 + step))
        batch_low = tf.minimum(tf.reduce_min(value), 0.0)
        batch_high = tf.maximum(tf.reduce_max(value), 0.0)
        # The updated ranges quantize this very step; no gradient to them.
        low = tf.stop_gradient(tf.compat.v1.assign_sub(
            low, (1.0 - decay) * (low - batch_low)))
        high = tf.stop_gradient(tf.compat.v1.assign_sub(
            high, (1.0 - decay) * (high - batch_high)))
      quantized = tf.quantization.fake_quant_with_min_max_vars(
          tensor, low, high, num_bits=NUM_BITS, narrow_range=False)
    return self._delayed(quantized, tensor)


def _weights(weights, per_channel):
  """Symmetric narrow-range fake quantization of weights (per output
  channel for convolutions), over their current extent."""
  with tf.name_scope("weights_quant"):
    axes = list(range(weights.shape.rank - 1)) if per_channel else None
    extent = tf.stop_gradient(
        tf.maximum(tf.reduce_max(tf.abs(weights), axis=axes), 1e-8))
    if per_channel:
      return tf.quantization.fake_quant_with_min_max_vars_per_channel(
          weights, -extent, extent, num_bits=NUM_BITS, narrow_range=True)
    return tf.quantization.fake_quant_with_min_max_vars(
        weights, -extent, extent, num_bits=NUM_BITS, narrow_range=True)


def _same_op(op, x, weights):
  """A Conv2D or MatMul like `op` on new inputs."""
  if op.type == "MatMul":
    return tf.linalg.matmul(x, weights, transpose_a=op.get_attr("transpose_a"),
                            transpose_b=op.get_attr("transpose_b"))
  return tf.nn.conv2d(x, weights, strides=op.get_attr("strides"),
                      padding=op.get_attr("padding").decode(),
                      data_format=op.get_attr("data_format").decode(),
                      dilations=op.get_attr("dilations"))
