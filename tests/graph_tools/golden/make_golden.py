"""Makes the golden files: small input graphs and the C++ tool's outputs.

The reference is TensorFlow's own Graph Transform Tool, which ships compiled
in the tensorflow-cpu 2.12.0 wheel for Python 3.11 (TF 2.21 no longer has
it). It is never a runtime dependency; it is only run here, in two steps:

  # 1. With the project's Python (TF 2.21): build the input graphs.
  python tests/graph_tools/golden/make_golden.py inputs
  # 2. With a separate venv outside the repo holding the 2.12 wheel:
  #    python3.11 -m venv /work/venv-tf212
  #    /work/venv-tf212/bin/pip install tensorflow-cpu==2.12.0 'numpy<1.24'
  /work/venv-tf212/bin/python tests/graph_tools/golden/make_golden.py reference

Step 1 writes `*.input.pb` here, and frozen random-init AlexNets (67x67,
LRN and batch norm; too large to keep) to /tmp/alexnet_golden. Step 2 runs
every case in CASES through
tensorflow.python.util._pywrap_transform_graph.TransformGraphWithStringInputs
(graph bytes, inputs, outputs, transforms -> transformed graph bytes) and
writes `CASE.reference.pb` plus `reference.json` (node count and op-type
counts of every reference output, AlexNet included, and errors).
"""

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ALEXNET_DIR = "/tmp/alexnet_golden"
ALEXNET_SIZE = 67

# The original project's list (scripts/convert.sh).
ORIGINAL_LIST = (
    'strip_unused_nodes(type=float, shape="1,227,227,3") '
    "remove_nodes(op=Identity, op=CheckNumerics) "
    "fold_constants(ignore_errors=true) round_weights(num_steps=256) "
    "obfuscate_names sort_by_execution_order fold_old_batch_norms "
    "fold_batch_norms")

# The README's "Eight-bit Calculations" list (registry.eight_bit_transforms).
EIGHT_BIT_LIST = (
    "add_default_attributes "
    'strip_unused_nodes(type=float, shape="1,227,227,3") '
    "remove_nodes(op=Identity, op=CheckNumerics) fold_old_batch_norms "
    "quantize_weights quantize_nodes strip_unused_nodes")

# case name -> (input graph, inputs, outputs, transforms)
CASES = {
    "strip_unused_nodes": ("basic", "x", "out", "strip_unused_nodes"),
    "strip_unused_nodes_deeper_input": (
        "basic", "scaled", "out",
        'strip_unused_nodes(type=float, shape="2,8,8,3")'),
    "remove_nodes": ("basic", "x", "out",
                     "remove_nodes(op=Identity, op=CheckNumerics)"),
    "fold_constants": ("basic", "x", "out", "fold_constants"),
    "fold_constants_after_remove": (
        "basic", "x", "out",
        "remove_nodes(op=Identity) fold_constants(ignore_errors=true)"),
    "fold_batch_norms": ("bn_mul", "x", "out",
                         "fold_constants fold_batch_norms"),
    "fold_old_batch_norms": ("bn_fused", "x", "out", "fold_old_batch_norms"),
    "round_weights": ("weights", "x", "out", "round_weights(num_steps=256)"),
    "round_weights_16": ("weights", "x", "out", "round_weights(num_steps=16)"),
    "quantize_weights": ("weights", "x", "out", "quantize_weights"),
    "quantize_weights_small": ("weights", "x", "out",
                               "quantize_weights(minimum_size=16)"),
    "obfuscate_names": ("basic", "x", "out", "obfuscate_names"),
    "sort_by_execution_order": ("basic", "x", "out",
                                "sort_by_execution_order"),
    "remove_device": ("basic", "x", "out", "remove_device"),
    "remove_attribute": ("basic", "x", "out",
                         "remove_attribute(attribute_name=T, op_name=Relu)"),
    "rename_attribute": ("basic", "x", "out",
                         "rename_attribute(old_attribute_name=data_format, "
                         "new_attribute_name=layout, op_name=BiasAdd)"),
    "add_default_attributes": ("basic", "x", "out", "add_default_attributes"),
    "rename_op": ("basic", "x", "out",
                  "rename_op(old_op_name=Relu, new_op_name=Relu6)"),
    "rename_node": ("basic", "x", "out",
                    "rename_node(old_node_name=relu, new_node_name=act)"),
    # Unquoted, the C++ parser takes the ':' in a device for a new argument.
    "set_device": ("basic", "x", "out",
                   'set_device(device="/device:CPU:0")'),
    "set_device_if_default": (
        "basic", "x", "out",
        'set_device(device="/job:worker/device:CPU:1", if_default=true)'),
    "merge_duplicate_nodes": ("dups", "x", "out", "merge_duplicate_nodes"),
    "remove_control_dependencies": ("dups", "x", "out",
                                    "remove_control_dependencies"),
    "inline_partitionedcall": ("partitioned", "x", "out",
                               "inline_partitionedcall"),
    "sparsify_gather": ("gather", "x", "out", "sparsify_gather"),
    "sparsify_gather_init": ("gather", "x", "out",
                             "sparsify_gather(group_init_node=init)"),
    "backport_concatv2": ("concat", "x", "out", "backport_concatv2"),
    "backport_tensor_array_v3": ("tensor_array", "x", "out",
                                 "backport_tensor_array_v3"),
    "flatten_atrous_conv": ("atrous", "x", "out", "flatten_atrous_conv"),
    "flatten_atrous_conv_valid": ("atrous_valid", "x", "out",
                                  "flatten_atrous_conv"),
    "fuse_pad_and_conv": ("pad_conv", "x", "out", "fuse_pad_and_conv"),
    "fuse_pad_and_conv_chain": ("pad_conv_chain", "x", "out",
                                "fuse_pad_and_conv"),
    "fuse_resize_and_conv": ("pad_conv", "x", "out", "fuse_resize_and_conv"),
    "fuse_resize_and_conv_half_pixel": ("pad_conv_chain", "x", "out",
                                        "fuse_resize_and_conv"),
    "fuse_resize_pad_and_conv": ("pad_conv", "x", "out",
                                 "fuse_resize_pad_and_conv"),
    # The eight-bit transforms. {golden} is this folder (the tests put in
    # theirs); eightbit_ranges.log is a made-up log of the RequantizationRange
    # nodes quantize_nodes writes for the eightbit graph, with noise lines.
    "quantize_nodes": ("eightbit", "x", "out", "quantize_nodes"),
    "quantize_nodes_weights": ("eightbit", "x", "out",
                               "quantize_weights(minimum_size=16) "
                               "quantize_nodes"),
    "quantize_nodes_fallback": ("eightbit", "x", "out",
                                "quantize_nodes(fallback_min=-12, "
                                "fallback_max=12)"),
    "quantize_nodes_input_range": ("eightbit", "x", "out",
                                   "quantize_nodes(input_min=-1, "
                                   "input_max=1)"),
    "quantize_nodes_ignore_op": ("eightbit", "x", "out",
                                 "quantize_nodes(ignore_op=MatMul, "
                                 "ignore_op=Concat)"),
    "quantize_nodes_fake_quant": ("fake_quant", "x", "out", "quantize_nodes"),
    "quantize_nodes_square": ("square", "x", "out", "quantize_nodes"),
    "insert_logging": ("eightbit", "x", "out",
                       'insert_logging(op=Relu, op=MatMul, show_op=true, '
                       'message="value:")'),
    "insert_logging_prefix": ("eightbit", "x", "out",
                              "insert_logging(prefix=conv, prefix=pool, "
                              "show_name=true, first_n=2, summarize=4)"),
    "insert_logging_requantization_range": (
        "eightbit", "x", "out",
        "quantize_nodes insert_logging(op=RequantizationRange, "
        'show_name=true, message="__requant_min_max:")'),
    "freeze_requantization_ranges": (
        "eightbit", "x", "out",
        "quantize_nodes freeze_requantization_ranges("
        'min_max_log_file="{golden}/eightbit_ranges.log")'),
    "freeze_requantization_ranges_percentiles": (
        "eightbit", "x", "out",
        "quantize_nodes freeze_requantization_ranges("
        'min_max_log_file="{golden}/eightbit_ranges.log", min_percentile=0, '
        "max_percentile=20)"),
    "original_list_basic": ("basic", "x", "out", ORIGINAL_LIST),
    "original_list_bn_fused": ("bn_fused", "x", "out", ORIGINAL_LIST),
}

ALEXNET_CASES = {
    "original_list": ORIGINAL_LIST,
    "fold_old_batch_norms": "remove_nodes(op=Identity) fold_old_batch_norms",
    "fold_constants": "fold_constants(ignore_errors=true)",
    "quantize_weights": "quantize_weights",
    "quantize_nodes": "quantize_nodes",
    "eight_bit_list": EIGHT_BIT_LIST,
}


def _build_inputs():
  import tensorflow as tf
  tf.compat.v1.disable_eager_execution()
  rng = np.random.RandomState(0)

  def const(shape, name, scale=0.5):
    return tf.constant(rng.normal(0, scale, shape).astype(np.float32),
                       name=name)

  def write(graph, name):
    data = graph.as_graph_def().SerializeToString()
    with open(os.path.join(HERE, f"{name}.input.pb"), "wb") as f:
      f.write(data)

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
    with tf.device("/cpu:0"):
      scaled = tf.multiply(x, 0.5, name="scaled")
    read = tf.identity(scaled, name="read")
    conv = tf.nn.conv2d(read, const([3, 3, 3, 4], "w"), 1, "VALID",
                        name="conv")
    bias = tf.nn.bias_add(conv, tf.add(const([4], "b1"), const([4], "b2")),
                          name="bias")
    checked = tf.debugging.check_numerics(bias, "bad", name="check")
    relu = tf.nn.relu(tf.identity(tf.identity(checked, name="id1"),
                                  name="id2"), name="relu")
    flat = tf.reshape(relu, [-1, 6 * 6 * 4], name="flat")
    scale = tf.square(const([1], "s"), name="square") + 1.0
    tf.nn.softmax(tf.matmul(flat, const([144, 5], "fc")) * scale, name="out")
    tf.reduce_sum(x, name="unused_sum")
  write(graph, "basic")

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
    conv = tf.nn.conv2d(x, const([3, 3, 3, 4], "w"), 1, "SAME", name="conv")
    mean, var = const([4], "mean"), tf.abs(const([4], "var")) + 0.5
    bn = tf.nn.batch_normalization(conv, mean, var, const([4], "beta"),
                                   const([4], "gamma"), 1e-3, name="bn")
    dw = tf.nn.depthwise_conv2d(bn, const([3, 3, 4, 2], "dw_w"), [1, 1, 1, 1],
                                "SAME", name="dw")
    dw_bn = tf.multiply(dw, const([8], "dw_scale"), name="dw_mul")
    flat = tf.reshape(dw_bn, [-1, 8 * 8 * 8], name="flat")
    mm = tf.matmul(flat, const([512, 5], "fc"), name="fc_mm")
    tf.identity(tf.multiply(mm, const([5], "fc_scale"), name="fc_mul"),
                name="out")
  write(graph, "bn_mul")

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")

    def stats(n, prefix):
      return (const([n], prefix + "_gamma"), const([n], prefix + "_beta"),
              const([n], prefix + "_mean"),
              tf.constant(rng.uniform(0.5, 2, n).astype(np.float32),
                          name=prefix + "_var"))

    conv = tf.nn.conv2d(x, const([3, 3, 3, 4], "w"), 1, "SAME", name="conv")
    gamma, beta, mean, var = stats(4, "bn1")
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        conv, gamma, beta, mean, var, epsilon=1e-3, is_training=False,
        name="bn1")
    conv2 = tf.nn.conv2d(tf.nn.relu(y), const([3, 3, 4, 4], "w2"), 1, "SAME",
                         name="conv2")
    gamma, beta, mean, var = stats(4, "bn2")
    y2 = tf.raw_ops.FusedBatchNorm(x=conv2, scale=gamma, offset=beta,
                                   mean=mean, variance=var, epsilon=1e-3,
                                   is_training=False, name="bn2")[0]
    tf.nn.relu(y2, name="out")
  write(graph, "bn_fused")

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 40], name="x")
    big = const([40, 64], "big")                         # 2560 elements
    neg = tf.constant(-np.abs(rng.normal(0, 1, [64])).astype(np.float32) - .1,
                      name="all_negative")
    flat = tf.constant(np.full([64], 0.25, np.float32), name="same_value")
    zeros = tf.constant(np.zeros([64], np.float32), name="zeros")
    small = const([10], "small")
    h = tf.matmul(x, big) + neg + flat + zeros
    h = tf.concat([h, tf.tile(small, [1])[None, :] + x[:, :10]], 1)
    mid = const([74, 20], "mid")                          # 1480 elements
    tf.identity(tf.matmul(h, mid), name="out")
  write(graph, "weights")

  _build_structure_inputs(write)
  _build_conv_fusion_inputs(write)
  _build_backport_inputs(write)
  _build_eightbit_inputs(write)
  _build_alexnets()


def _build_structure_inputs(write):
  """Graphs with duplicates and control inputs, a function call, Gathers."""
  import tensorflow as tf
  rng = np.random.RandomState(1)

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
    init = tf.no_op(name="init")
    two_a = tf.constant(2.0, name="two_a")
    two_b = tf.constant(2.0, name="two_b")  # A duplicate of two_a.
    with tf.control_dependencies([init]):
      m1 = tf.multiply(x, two_a, name="m1")
      m2 = tf.multiply(x, two_b, name="m2")
    r1, r2 = tf.nn.relu(m1, name="r1"), tf.nn.relu(m2, name="r2")
    # The raw op: tf.debugging.Assert writes an If calling a function.
    check = tf.raw_ops.Assert(condition=tf.reduce_all(tf.math.is_finite(x)),
                              data=[x], name="check")
    with tf.control_dependencies([check]):
      total = tf.add(r1, r2, name="sum")
    tf.identity(total, name="out")
  write(graph, "dups")

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
    w = tf.constant(rng.normal(0, 0.5, [4, 4]).astype(np.float32), name="w")

    @tf.function
    def block(a, b):
      return tf.nn.relu(tf.matmul(a, b)) * 2.0, tf.tanh(a) + 1.0

    first = block(x, w)
    second = block(first[0], w)
    tf.identity(second[0] + first[1], name="out")
  write(graph, "partitioned")

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
    ids = tf.cast(tf.floor(tf.abs(x) * 10.0), tf.int64, name="ids")

    def sparse_weights(name):
      values = rng.normal(0, 1, [10, 1]).astype(np.float32)
      values[rng.uniform(size=[10, 1]) < 0.6] = 0
      return tf.identity(tf.constant(values, name=name), name=name + "/read")

    gathered = tf.raw_ops.Gather(params=sparse_weights("w1"), indices=ids,
                                 name="g1")
    gathered += tf.gather(sparse_weights("w2"), ids, name="g2")
    tf.no_op(name="init")
    tf.identity(tf.reduce_sum(gathered, axis=[1, 2]), name="out")
  write(graph, "gather")


def _build_conv_fusion_inputs(write):
  """Graphs for the fuse_* and flatten_atrous_conv cases (own random state,
  so the other graphs keep their values)."""
  import tensorflow as tf
  rng = np.random.RandomState(1)

  def const(shape, name):
    return tf.constant(rng.normal(0, 0.5, shape).astype(np.float32),
                       name=name)

  def mirror_pad(x, pads, mode, name):
    return tf.pad(x, [[0, 0]] + pads + [[0, 0]], mode=mode, name=name)

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [1, 6, 6, 3], name="x")
    # Resize -> MirrorPad -> Conv2D, then MirrorPad -> strided Conv2D, then
    # corner-aligned resize -> Conv2D.
    resized = tf.compat.v1.image.resize_bilinear(x, [9, 9], name="resize1")
    conv = tf.nn.conv2d(mirror_pad(resized, [[1, 1], [1, 1]], "REFLECT",
                                   "pad1"), const([3, 3, 3, 4], "w1"), 1,
                        "VALID", name="conv1")
    conv = tf.nn.conv2d(mirror_pad(tf.nn.relu(conv), [[2, 1], [1, 2]],
                                   "SYMMETRIC", "pad2"),
                        const([3, 3, 4, 4], "w2"), 2, "SAME", name="conv2")
    resized = tf.compat.v1.image.resize_bilinear(
        tf.nn.relu(conv), [8, 8], align_corners=True, name="resize3")
    conv = tf.nn.conv2d(resized, const([2, 2, 4, 2], "w3"), 1, "SAME",
                        name="conv3")
    tf.identity(conv, name="out")
  write(graph, "pad_conv")

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [1, 6, 6, 3], name="x")
    # Chained pad+conv (the C++ matcher takes only every other one), two
    # convolutions sharing weights, and TF 2 resizing (half-pixel centres).
    conv = tf.nn.conv2d(mirror_pad(x, [[1, 1], [1, 1]], "REFLECT", "pad1"),
                        const([3, 3, 3, 3], "w1"), 1, "VALID", name="conv1")
    conv = tf.nn.conv2d(mirror_pad(conv, [[1, 1], [1, 1]], "REFLECT",
                                   "pad2"), const([3, 3, 3, 3], "w2"), 1,
                        "VALID", name="conv2")
    shared = const([3, 3, 3, 3], "shared_w")
    left = tf.nn.conv2d(mirror_pad(conv, [[1, 1], [1, 1]], "SYMMETRIC",
                                   "pad3"), shared, 1, "VALID", name="conv3")
    right = tf.nn.conv2d(mirror_pad(x, [[1, 1], [1, 1]], "SYMMETRIC",
                                    "pad4"), shared, 1, "VALID", name="conv4")
    resized = tf.image.resize(left + right, [9, 9], name="resize")
    tf.identity(tf.nn.conv2d(resized, const([3, 3, 3, 2], "w5"), 1, "SAME",
                             name="conv5"), name="out")
  write(graph, "pad_conv_chain")

  for padding in ("SAME", "VALID"):
    graph = tf.Graph()
    with graph.as_default():
      # 7x7: SpaceToBatchND pads up to a multiple of the rate and the
      # BatchToSpaceND crops the extra off again.
      x = tf.compat.v1.placeholder(tf.float32, [None, 7, 7, 3], name="x")
      conv = tf.nn.atrous_conv2d(x, const([3, 3, 3, 4], "w"), 2, padding,
                                 name="atrous")
      conv = tf.nn.depthwise_conv2d(tf.nn.relu(conv),
                                    const([2, 2, 4, 2], "dw_w"),
                                    [1, 1, 1, 1], padding, dilations=[2, 2],
                                    name="dw")
      tf.identity(conv, name="out")
    write(graph, "atrous" if padding == "SAME" else "atrous_valid")


def _build_backport_inputs(write):
  """Graphs for backport_concatv2 and backport_tensor_array_v3."""
  import tensorflow as tf
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
    wide = tf.concat([x, x * 2.0, tf.ones_like(x)], 1, name="wide")
    tall = tf.concat([wide, -wide], 0, name="tall")
    tf.identity(tf.concat([tall, tall], -1, name="last_axis"), name="out")
  write(graph, "concat")

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [3, 4], name="x")
    raw = tf.raw_ops
    handle, flow = raw.TensorArrayV3(size=4, dtype=tf.float32,
                                     element_shape=[4], name="ta")
    flow = raw.TensorArrayScatterV3(handle=handle, indices=[0, 1, 2],
                                    value=x, flow_in=flow, name="scatter")
    flow = raw.TensorArrayWriteV3(handle=handle, index=3, value=x[0] * 3.0,
                                  flow_in=flow, name="write")
    read = raw.TensorArrayReadV3(handle=handle, index=3, flow_in=flow,
                                 dtype=tf.float32, name="read")
    gathered = raw.TensorArrayGatherV3(handle=handle, indices=[2, 0],
                                       flow_in=flow, dtype=tf.float32,
                                       element_shape=[4], name="gather")
    size = raw.TensorArraySizeV3(handle=handle, flow_in=flow, name="size")
    grad, grad_flow = raw.TensorArrayGradV3(handle=handle, flow_in=flow,
                                            source="grad", name="grad")
    grad_flow = raw.TensorArrayWriteV3(handle=grad, index=0, value=x[1],
                                       flow_in=grad_flow, name="grad_write")
    grad_read = raw.TensorArrayReadV3(handle=grad, index=0,
                                      flow_in=grad_flow, dtype=tf.float32,
                                      name="grad_read")
    tf.identity(read + tf.reduce_sum(gathered, 0) + grad_read +
                tf.cast(size, tf.float32), name="out")
  write(graph, "tensor_array")


# The nodes quantize_nodes gives a RequantizationRange in the eightbit graph.
EIGHTBIT_WIDE_OPS = ("conv", "bias", "mm1", "mm2", "add", "mul")


def _build_eightbit_inputs(write):
  """Graphs for quantize_nodes, insert_logging, freeze_requantization_ranges:
  every op quantize_nodes knows but Conv2DBackpropInput (float-only in TF
  2.21) and trained FakeQuant ranges; plus a made-up range log."""
  import tensorflow as tf
  rng = np.random.RandomState(2)

  def const(shape, name):
    return tf.constant(rng.normal(0, 0.5, shape).astype(np.float32),
                       name=name)

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
    conv = tf.nn.conv2d(x, const([3, 3, 3, 4], "w"), 1, "SAME", name="conv")
    relu = tf.nn.relu(tf.nn.bias_add(conv, const([4], "b"), name="bias"),
                      name="relu")
    pooled = tf.nn.max_pool2d(relu, 2, 2, "VALID", name="pool")
    averaged = tf.nn.avg_pool2d(relu, 2, 2, "VALID", name="avg_pool")
    resized = tf.compat.v1.image.resize_bilinear(relu, [4, 4], name="resize")
    joined = tf.raw_ops.Concat(concat_dim=tf.constant(3, name="axis"),
                               values=[pooled, averaged, resized],
                               name="concat")
    flat = tf.reshape(tf.nn.relu6(joined, name="relu6"), [-1, 4 * 4 * 12],
                      name="flat")
    mm1 = tf.matmul(flat, const([192, 6], "fc1"), name="mm1")
    mm2 = tf.matmul(flat, const([192, 6], "fc2"), name="mm2")
    # tf.add writes AddV2, which is not in the C++ tool's list.
    added = tf.raw_ops.Add(x=mm1, y=mm2, name="add")
    tf.nn.softmax(tf.multiply(added, mm1, name="mul"), name="out")
  write(graph, "eightbit")

  graph = tf.Graph()
  with graph.as_default():
    # Mul(x, x): the C++ tool quantizes x twice under one name and fails.
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
    relu = tf.nn.relu(x, name="relu")
    tf.identity(tf.multiply(relu, relu, name="square"), name="out")
  write(graph, "square")

  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
    fake_quant = tf.quantization.fake_quant_with_min_max_vars
    conv = tf.nn.conv2d(x, const([3, 3, 3, 4], "w"), 1, "SAME", name="conv")
    relu = tf.nn.relu(tf.nn.bias_add(conv, const([4], "b"), name="bias"),
                      name="relu")
    # After the Relu: hoisted to the BiasAdd, then merged with its
    # measured requantization.
    relu = fake_quant(relu, tf.constant(0.0, name="act_min"),
                      tf.constant(6.0, name="act_max"), name="act_quant")
    flat = tf.reshape(tf.nn.max_pool2d(relu, 2, 2, "VALID", name="pool"),
                      [-1, 64], name="flat")
    logits = fake_quant(tf.matmul(flat, const([64, 5], "fc"), name="mm"),
                        tf.constant(-8.0, name="logit_min"),
                        tf.constant(8.0, name="logit_max"),
                        name="logit_quant")
    tf.nn.softmax(logits, name="out")
  write(graph, "fake_quant")

  lines = ["I0000 00:00:1 logging_ops.cc:79] unrelated line",
           ";mm1/eightbit/requant_range__print__;__requant_min_max:[1][x]",
           ";mm1/eightbit/requant_range__print__;__requant_min_max:[2]"]
  for run in range(20):
    for name in EIGHTBIT_WIDE_OPS:
      low, high = -rng.uniform(1, 10), rng.uniform(1, 10)
      lines.append(f"I0000 00:00:{run} logging_ops.cc:79] ;{name}/eightbit/"
                   f"requant_range__print__;__requant_min_max:[{low:.6f}]"
                   f"[{high:.6f}]")
  with open(os.path.join(HERE, "eightbit_ranges.log"), "w") as f:
    f.write("\n".join(lines) + "\n")


def _build_alexnets():
  import tensorflow as tf
  from alexnet.graph_tools import freeze
  from alexnet.graph_tools import graph_io
  from alexnet.nets import alexnet
  os.makedirs(ALEXNET_DIR, exist_ok=True)
  for normalization in ("lrn", "batch_norm"):
    path = os.path.join(ALEXNET_DIR, normalization)
    graph = tf.Graph()
    with graph.as_default():
      logits, _ = alexnet.alexnet(alexnet.input_placeholder(ALEXNET_SIZE),
                                  normalization=normalization)
      alexnet.inference_outputs(logits)
      saver = tf.compat.v1.train.Saver()
      with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        checkpoint = saver.save(session, path + ".ckpt")
    frozen = freeze.freeze_graph_def(graph.as_graph_def(), checkpoint,
                                     ["probabilities", "classes"])
    graph_io.save_graph_def(frozen, path + ".frozen.pb")


def _summary(data):
  from tensorflow.core.framework import graph_pb2
  graph_def = graph_pb2.GraphDef()
  graph_def.ParseFromString(data)
  ops = {}
  for node in graph_def.node:
    ops[node.op] = ops.get(node.op, 0) + 1
  return {"node_count": len(graph_def.node), "ops": ops}


def _run_reference(data, inputs, outputs, transforms):
  from tensorflow.python.util import _pywrap_transform_graph
  return _pywrap_transform_graph.TransformGraphWithStringInputs(
      data, inputs, outputs, transforms)


def _make_reference():
  results = {"cases": {}, "alexnet": {}}
  for case, (graph, inputs, outputs, transforms) in CASES.items():
    with open(os.path.join(HERE, f"{graph}.input.pb"), "rb") as f:
      data = f.read()
    entry = {"graph": graph, "inputs": inputs, "outputs": outputs,
             "transforms": transforms}
    try:
      out = _run_reference(data, inputs, outputs,
                           transforms.replace("{golden}", HERE))
    except Exception as e:  # The reference's error is recorded, not raised.
      entry["error"] = str(e).splitlines()[0]
    else:
      with open(os.path.join(HERE, f"{case}.reference.pb"), "wb") as f:
        f.write(out)
      entry.update(_summary(out))
    results["cases"][case] = entry
  for normalization in ("lrn", "batch_norm"):
    with open(os.path.join(ALEXNET_DIR, normalization + ".frozen.pb"),
              "rb") as f:
      data = f.read()
    for case, transforms in ALEXNET_CASES.items():
      out = _run_reference(data, "input", "probabilities", transforms)
      results["alexnet"][f"{normalization}/{case}"] = dict(
          transforms=transforms, **_summary(out))
  with open(os.path.join(HERE, "reference.json"), "w") as f:
    json.dump(results, f, indent=1, sort_keys=True)


if __name__ == "__main__":
  if sys.argv[1:] == ["inputs"]:
    _build_inputs()
  elif sys.argv[1:] == ["reference"]:
    _make_reference()
  else:
    sys.exit("usage: make_golden.py inputs|reference (see the docstring)")
