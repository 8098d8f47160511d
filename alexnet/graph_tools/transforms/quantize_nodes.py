"""quantize_nodes: compute every op that has an eight-bit kernel in eight bits.

Options:
  input_min, input_max: both or neither. With them every Placeholder is fed
    quint8 (q = round((v - input_min) * 255 / (input_max - input_min))): it
    becomes a quint8 Placeholder read through a Dequantize.
  fallback_min, fallback_max: both or neither. With them every 32-bit result
    (of QuantizedConv2D, QuantizedMatMul, QuantizedBiasAdd, QuantizedAdd,
    QuantizedMul) is requantized to eight bits with this fixed range instead
    of the range a RequantizationRange op measures on each run.
  ignore_op (repeatable): op types to leave float.

As the C++ transform does it, in passes:
 1. with input_min/max, the Placeholders become quint8;
 2. FakeQuantWithMinMaxVars(x, Const, Const) at the end of a chain of up to
    three single-input ops is moved up the chain, next to the op that
    makes x, and then becomes QuantizeV2 -> Requantize (to its trained
    range) -> Dequantize;
 3. each float op of the list below, all of whose inputs (but the shape or
    axis inputs) and outputs are float32, becomes: per input a Reshape to
    1-D, Min, Max and QuantizeV2 (quint8, MIN_FIRST); the Quantized op
    `NAME/eightbit`; for ops with 32-bit results a RequantizationRange
    (`NAME/eightbit/requant_range`, or the fallback Consts) and a
    Requantize `NAME/eightbit/requantize`; and a Dequantize under the op's
    own name, so that every reader is unchanged;
 4. a Requantize with a measured range followed by a FakeQuant's
    Requantize becomes one Requantize to the trained range;
 5. merge_duplicate_nodes (one QuantizeV2 per tensor however many ops read
    it);
 6. a QuantizeV2 of a Dequantize (two adjacent eight-bit ops) is bypassed:
    its readers read the Dequantize's eight-bit inputs directly.
The bypassed conversions stay in the graph unused, as in the C++ output;
run strip_unused_nodes after it, as the tool's README list does.

Ops: Add, AvgPool, BiasAdd, Concat, Conv2D, MatMul, MaxPool, Mul, Relu,
Relu6, ResizeBilinear, Reshape. Run quantize_weights first, so that the
weights are stored as eight bits and their QuantizeV2 is bypassed too
(otherwise every run measures and quantizes them again).
"""

import collections

import numpy as np
from tensorflow.core.framework import node_def_pb2
from tensorflow.core.framework import types_pb2

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import matching
from alexnet.graph_tools.context import TransformContext
from alexnet.graph_tools.context import TransformError
from alexnet.graph_tools.matching import Pattern
from alexnet.graph_tools.transforms import merge_duplicate_nodes

# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("input_min", "input_max", "fallback_min", "fallback_max", "ignore_op")

_FLOAT = types_pb2.DT_FLOAT
_QUINT8 = types_pb2.DT_QUINT8
_QINT32 = types_pb2.DT_QINT32

# attrs: copied from the float op; dtypes: set on the quantized op;
# wide: 32-bit result (needs requantizing); unquantized: input positions
# that stay as they are (shapes, axes); separate: the quantized op takes
# all mins, then all maxes (else min and max per input).
_Op = collections.namedtuple("_Op", "attrs dtypes wide unquantized separate",
                             defaults=((), False))
_BINARY = {"T1": _QUINT8, "T2": _QUINT8, "Toutput": _QINT32}
_POOL = ("ksize", "strides", "padding")
OPS = {
    "Add": _Op((), _BINARY, True),
    "AvgPool": _Op(_POOL, {"T": _QUINT8}, False),
    "BiasAdd": _Op((), {"T1": _QUINT8, "T2": _QUINT8, "out_type": _QINT32},
                   True),
    "Concat": _Op(("N",), {"T": _QUINT8}, False, (0,), True),
    "Conv2D": _Op(("strides", "padding"),
                  {"Tinput": _QUINT8, "Tfilter": _QUINT8, "out_type": _QINT32},
                  True),
    "MatMul": _Op(("transpose_a", "transpose_b"), _BINARY, True),
    "MaxPool": _Op(_POOL, {"T": _QUINT8}, False),
    "Mul": _Op((), _BINARY, True),
    "Relu": _Op((), {"Tinput": _QUINT8}, False),
    "Relu6": _Op((), {"Tinput": _QUINT8}, False),
    "ResizeBilinear": _Op(("align_corners", "half_pixel_centers"),
                          {"T": _QUINT8}, False, (1,)),
    "Reshape": _Op((), {"T": _QUINT8}, False, (1,)),
}


def _fail(message):
  return TransformError(f"quantize_nodes: {message}")


def _range(context, low_name, high_name):
  """(low, high) from a pair of options, or None when neither is given."""
  given = [name in context.params for name in (low_name, high_name)]
  if not any(given):
    return None
  if not all(given):
    raise _fail(f"give both {low_name} and {high_name}, or neither")
  low = context.get_one_float(low_name, 0)
  high = context.get_one_float(high_name, 0)
  if not low < high:
    raise _fail(f"{low_name}={low} must be below {high_name}={high}")
  return low, high


def _node(name, op, inputs=(), device="", **attrs):
  """A NodeDef; attrs are dtypes (ints), strings or bools."""
  node = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs),
                                          device=device)
  for key, value in attrs.items():
    if isinstance(value, bool):
      node.attr[key].b = value
    elif isinstance(value, str):
      node.attr[key].s = value.encode()
    else:
      node.attr[key].type = value
  return node


def _const(name, value, dtype, inputs=(), device=""):
  node = graph_utils.set_const(node_def_pb2.NodeDef(), name,
                               value, dtype)
  node.input.extend(inputs)
  node.device = device
  return node


def _scalar(name, value, device=""):
  return _const(name, np.float32(value), None, device=device)


def _three(name):
  return [f"{name}:0", f"{name}:1", f"{name}:2"]


def _eightbit_capable(node):
  """Whether the kernels can run this node's attributes (the C++ tool copies
  only the attributes above and so would silently drop these)."""
  attrs = node.attr
  if "data_format" in attrs and attrs["data_format"].s != b"NHWC":
    return False
  if node.op == "Conv2D":
    return (attrs["padding"].s in (b"SAME", b"VALID") if "padding" in attrs
            else False) and ("dilations" not in attrs or all(
                d == 1 for d in attrs["dilations"].list.i))
  return True


def _quantizable(node, ignored):
  """Whether pass 3 turns this node into its eight-bit version."""
  info = OPS.get(node.op)
  if info is None or node.op in ignored or not _eightbit_capable(node):
    return False
  types = graph_utils.in_out_types(node)
  if types is None:
    return False
  inputs, outputs = types
  if len(graph_utils.data_inputs(node)) != len(inputs):
    return False
  return (all(t == _FLOAT for i, t in enumerate(inputs)
              if i not in info.unquantized) and
          all(t == _FLOAT for t in outputs))


def _quantize_placeholders(graph_def, input_range):
  """Pass 1: quint8 Placeholders read through a Dequantize."""
  renames, ignore = {}, set()
  for node in list(graph_def.node):
    if node.op != "Placeholder":
      continue
    prefix = node.name + "_eightbit"
    node.attr["dtype"].type = _QUINT8
    low = _scalar(prefix + "/min", input_range[0], node.device)
    high = _scalar(prefix + "/max", input_range[1], node.device)
    dequantize = _node(prefix + "/dequantize", "Dequantize",
                       [node.name, low.name, high.name], node.device,
                       T=_QUINT8, mode="MIN_FIRST")
    graph_def.node.extend([low, high, dequantize])
    renames[node.name] = dequantize.name
    ignore.add(dequantize.name)
  matching.rename_node_inputs(graph_def, renames, ignore)


def _fake_quant(inner):
  return Pattern("FakeQuantWithMinMaxVars",
                 (inner, Pattern("Const"), Pattern("Const")))


def _copy(node):
  copy = node_def_pb2.NodeDef()
  copy.CopyFrom(node)
  return copy


def _hoist_fake_quants(graph_def):
  """Pass 2a: a FakeQuant after a chain of up to 3 single-input ops moves to
  the chain's start (deepest chains first)."""
  for depth in (3, 2, 1):
    chain = Pattern("*")
    for _ in range(depth):
      chain = Pattern("*", (chain,))

    def hoist(match, _inputs, _outputs, depth=depth):
      fake_quant, low, high = (match.node, match.inputs[1].node,
                               match.inputs[2].node)
      linear, current = [], match
      for _ in range(depth + 1):
        current = current.inputs[0]
        linear.append(_copy(current.node))
      hoisted = _copy(fake_quant)
      hoisted.name = fake_quant.name + "_hoisted"
      # The FakeQuant now reads what the chain's first op read, that op
      # reads the FakeQuant, and the chain's last op takes its name.
      hoisted.input[0] = linear[-2].input[0]
      linear[-2].input[0] = hoisted.name
      linear[0].name = fake_quant.name
      return [hoisted, low, high] + linear

    matching.replace_matches(graph_def, _fake_quant(chain), hoist)


def _convert_fake_quants(graph_def):
  """Pass 2b: FakeQuant(x, Const, Const) -> QuantizeV2 (qint32) to that
  range, Requantize to it, Dequantize under the FakeQuant's name."""

  def convert(match, _inputs, _outputs):
    fake_quant = match.node
    source, low, high = (m.node for m in match.inputs)
    prefix, device = fake_quant.name + "_eightbit", fake_quant.device
    quantize = _node(prefix + "/quantize", "QuantizeV2",
                     [fake_quant.input[0], low.name, high.name], device,
                     T=_QINT32, mode="MIN_FIRST")
    requantize = _node(prefix + "/requantize", "Requantize",
                       _three(quantize.name) + [low.name, high.name], device,
                       Tinput=_QINT32, out_type=_QUINT8)
    dequantize = _node(fake_quant.name, "Dequantize", _three(requantize.name),
                       device, T=_QUINT8, mode="MIN_FIRST")
    return [source, low, high, quantize, requantize, dequantize]

  matching.replace_matches(graph_def, _fake_quant(Pattern("*")), convert)


def _unique_name(input_name):
  """'^a' -> '__hat__a', 'a:1' -> 'a__port__1' (a name for an input)."""
  prefix, name, suffix = graph_utils.split_input(input_name)
  return (("__hat__" if prefix else "") + name +
          (f"__port__{suffix[1:]}" if suffix else ""))


def _quantized_nodes(node, fallback):
  """Pass 3 for one float node: the new nodes (the node itself becomes the
  Dequantize)."""
  info = OPS[node.op]
  device = node.device
  prefix = node.name + "_eightbit"
  new, quantized, done = [], [], {}
  data = graph_utils.data_inputs(node)
  for i, inp in enumerate(data):
    if i in info.unquantized:
      continue
    base = f"{prefix}/{_unique_name(inp)}"
    if base in done:  # The same tensor twice (Mul(x, x)): quantized once.
      quantized.append(done[base])
      continue
    control = ["^" + graph_utils.node_name(inp)]
    shape = _const(base + "/reshape_dims", np.array([-1], np.int32), None,
                   control, device)
    axis = _const(base + "/reduction_dims", np.array([0], np.int32), None,
                  control, device)
    flat = _node(base + "/reshape", "Reshape", [inp, shape.name], device,
                 T=_FLOAT)
    low = _node(base + "/min", "Min", [flat.name, axis.name], device,
                T=_FLOAT, keep_dims=False)
    high = _node(base + "/max", "Max", [flat.name, axis.name], device,
                 T=_FLOAT, keep_dims=False)
    quantize = _node(base + "/quantize", "QuantizeV2",
                     [inp, low.name, high.name], device, T=_QUINT8,
                     mode="MIN_FIRST")
    new += [shape, axis, flat, low, high, quantize]
    quantized.append(quantize.name)
    done[base] = quantize.name
  main = _node(node.name + "/eightbit", "Quantized" + node.op, device=device)
  for attr in info.attrs:
    if attr in node.attr:
      main.attr[attr].CopyFrom(node.attr[attr])
  for attr, dtype in info.dtypes.items():
    main.attr[attr].type = dtype
  names = iter(quantized)
  for i, inp in enumerate(data):
    main.input.append(inp if i in info.unquantized else next(names) + ":0")
  if info.separate:
    main.input.extend([q + ":1" for q in quantized] +
                      [q + ":2" for q in quantized])
  else:
    for q in quantized:
      main.input.extend([q + ":1", q + ":2"])
  main.input.extend(i for i in node.input if graph_utils.is_control(i))
  new.append(main)
  eight_bit = main.name
  if info.wide:
    if fallback is not None:
      low = _scalar(main.name + "/fallback_min", fallback[0], device)
      high = _scalar(main.name + "/fallback_max", fallback[1], device)
      new += [low, high]
      limits = [low.name, high.name]
    else:
      measure = _node(main.name + "/requant_range", "RequantizationRange",
                      _three(main.name), device, Tinput=_QINT32)
      new.append(measure)
      limits = [measure.name + ":0", measure.name + ":1"]
    requantize = _node(main.name + "/requantize", "Requantize",
                       _three(main.name) + limits, device, Tinput=_QINT32,
                       out_type=_QUINT8)
    new.append(requantize)
    eight_bit = requantize.name
  return new, eight_bit


def _quantize_ops(graph_def, ignored, fallback):
  """Pass 3: every quantizable node in eight bits, read through a
  Dequantize under its name."""
  for node in list(graph_def.node):
    if not _quantizable(node, ignored):
      continue
    new, eight_bit = _quantized_nodes(node, fallback)
    name, device = node.name, node.device
    node.CopyFrom(_node(name, "Dequantize", _three(eight_bit), device,
                        T=_QUINT8, mode="MIN_FIRST"))
    graph_def.node.extend(new)


def _merge_adjacent_requantizes(graph_def):
  """Pass 4: Requantize(measured range) -> Dequantize -> QuantizeV2 ->
  Requantize(trained range) becomes one Requantize to the trained range."""
  measured = Pattern("Requantize", (
      Pattern("*"), Pattern("*"), Pattern("*"),
      Pattern("RequantizationRange"), Pattern("RequantizationRange")))
  pattern = Pattern("Requantize", (
      Pattern("QuantizeV2", (
          Pattern("Dequantize", (measured, Pattern("Requantize"),
                                 Pattern("Requantize"))),
          Pattern("Const"), Pattern("Const"))),
      Pattern("QuantizeV2"), Pattern("QuantizeV2"),
      Pattern("Const"), Pattern("Const")))

  def merge(match, _inputs, _outputs):
    source = match.inputs[0].inputs[0].inputs[0].inputs[0].node
    low, high = match.inputs[3].node, match.inputs[4].node
    requantize = _copy(match.node)
    del requantize.input[:]
    requantize.input.extend(_three(source.name) + [low.name, high.name])
    return [source, low, high, requantize]

  matching.replace_matches(graph_def, pattern, merge)


def _remove_redundant_quantizations(graph_def, outputs):
  """Pass 6: readers of QuantizeV2(Dequantize(q, min, max)) read q, min and
  max. The pair stays where something else reads the Dequantize."""
  renames = {}

  def bypass(match, _inputs, output_nodes):
    quantize, dequantize = match.node, match.inputs[0].node
    for slot in range(3):
      renames[f"{quantize.name}:{slot}"] = dequantize.input[slot]
    if dequantize.name in output_nodes or dequantize.name in outputs:
      return matching.matched_nodes(match)
    return []

  pattern = Pattern("QuantizeV2", (Pattern("Dequantize"), Pattern("Min"),
                                   Pattern("Max")))
  matching.replace_matches(graph_def, pattern, bypass,
                           allow_inconsistencies=True)
  matching.rename_node_inputs(graph_def, renames)


def transform(graph_def, context):
  ignored = set(context.params.get("ignore_op", []))
  input_range = _range(context, "input_min", "input_max")
  fallback = _range(context, "fallback_min", "fallback_max")
  # Checked before anything changes (ignore_errors leaves the graph as is).
  if not any(_quantizable(node, ignored) for node in graph_def.node):
    raise _fail("the graph has no float32 op with an eight-bit kernel ("
                f"{', '.join(sorted(set(OPS) - ignored))}); nothing to "
                "quantize: check --in_graph and ignore_op")
  if input_range is not None:
    _quantize_placeholders(graph_def, input_range)
  _hoist_fake_quants(graph_def)
  _convert_fake_quants(graph_def)
  _quantize_ops(graph_def, ignored, fallback)
  _merge_adjacent_requantizes(graph_def)
  merge_duplicate_nodes.transform(graph_def, TransformContext(
      context.input_names, context.output_names, {}, context.name,
      context.tensors))
  _remove_redundant_quantizations(
      graph_def, {graph_utils.node_name(o) for o in context.output_names})
  graph_utils.update_colocation(graph_def.node,
                                existing={n.name for n in graph_def.node})
  return graph_def
