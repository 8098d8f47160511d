"""fold_constants: replace subgraphs that always compute the same value by Consts.

Options:
  ignore_errors: on failure keep the graph unchanged and go on (all
    transforms take it; most useful here).
  clear_output_shapes: drop stale `_output_shapes` attributes (default true).
  max_constant_size_in_bytes: never create a Const larger than this
    (default 10 MiB, like TensorFlow's constant folding).
  exclude_op: op type never folded (repeatable).

A node is foldable when it is a Const, or when it is deterministic
(not stateful, not a placeholder, not control flow, not an --inputs node)
and all its data inputs are foldable. Every foldable tensor that a
non-foldable node reads is computed once -- by TensorFlow's own kernels:
op by op in eager mode (a tf.Graph and a Session cost milliseconds more
than a small graph's whole folding), or, where an op has attributes eager
execution cannot be given from a NodeDef (functions, tensors) or the caller
runs in graph mode, by importing the foldable subgraph into a tf.Graph and
running it in a Session -- and stored as a new Const named `NODE__cf__N` that keeps the control inputs the
folded nodes had from outside. Finally everything the --outputs do not need
is removed, as the C++ tool does. Consts larger than the size limit are not
fed into folding at all (their results would be too large to store anyway).

TensorFlow folds constants itself when it loads a graph, so this rarely
speeds anything up; it makes the graph simpler for other transforms
(fold_batch_norms needs it) and for converters.
"""

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context as eager_context
from tensorflow.python.eager import execute
from tensorflow.python.framework import op_def_registry

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError

_NEVER_FOLDED = frozenset((
    "Placeholder", "PlaceholderV2", "PlaceholderWithDefault", "Switch",
    "RefSwitch", "Merge", "RefMerge", "Enter", "RefEnter", "Exit", "RefExit",
    "NextIteration", "RefNextIteration", "LoopCond", "ControlTrigger", "NoOp",
    "_Send", "_Recv", "_Arg", "_Retval"))


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("clear_output_shapes", "max_constant_size_in_bytes", "exclude_op")


def _is_deterministic(op, excluded):
  if op in _NEVER_FOLDED or op in excluded:
    return False
  op_def = op_def_registry.get(op)
  return op_def is not None and not op_def.is_stateful


def _foldable(graph_def, context, max_bytes):
  """name -> set of control inputs (from outside the folded set) to keep,
  in execution order."""
  try:
    order = graph_utils.topological_order(graph_def)
  except ValueError as e:
    raise TransformError(f"fold_constants: {e}") from None
  excluded = set(context.params.get("exclude_op", []))
  inputs = {graph_utils.node_name(i) for i in context.input_names}
  foldable = {}
  for i in order:
    node = graph_def.node[i]
    if node.name in inputs:
      continue
    if node.op == "Const":
      if context.tensors.content_size(node) <= max_bytes:
        foldable[node.name] = set()
      continue
    if not _is_deterministic(node.op, excluded):
      continue
    sources = [graph_utils.node_name(i) for i in graph_utils.data_inputs(node)]
    if not sources or any(s not in foldable for s in sources):
      continue
    controls = set()
    for inp in node.input:
      src = graph_utils.node_name(inp)
      if graph_utils.is_control(inp) and src not in foldable:
        controls.add(src)
      elif src in foldable:
        controls |= foldable[src]
    foldable[node.name] = controls
  return foldable


def _targets(graph_def, foldable):
  """Tensors ('node:slot') of folded non-Const nodes read by non-folded nodes."""
  nodes = graph_utils.node_map(graph_def)
  targets = {}
  for node in graph_def.node:
    if node.name in foldable:
      continue
    for inp in graph_utils.data_inputs(node):
      src = graph_utils.node_name(inp)
      if src in foldable and nodes[src].op != "Const":
        targets[f"{src}:{graph_utils.output_index(inp)}"] = src
  return targets


def _needed(nodes, targets):
  """Names of the foldable nodes that `targets` are computed from."""
  needed, pending = set(), list(set(targets.values()))
  while pending:
    name = pending.pop()
    if name in needed:
      continue
    needed.add(name)
    pending.extend(graph_utils.node_name(i)
                   for i in graph_utils.data_inputs(nodes[name]))
  return needed


class _NotEager(Exception):
  """An op eager execution cannot be given from its NodeDef alone."""


_LIST_FIELDS = ("s", "i", "f", "b", "type", "shape")


def _shape(shape):
  return None if shape.unknown_rank else [d.size for d in shape.dim]


def _attr(value):
  """An AttrValue as eager execution takes it."""
  kind = value.WhichOneof("value")
  if kind in ("s", "i", "f", "b", "type"):
    return getattr(value, kind)
  if kind == "shape":
    return _shape(value.shape)
  if kind == "list":
    for field in _LIST_FIELDS:
      items = getattr(value.list, field)
      if items:
        return [_shape(x) for x in items] if field == "shape" else list(items)
    if value.list.func or value.list.tensor:
      raise _NotEager
    return []
  raise _NotEager  # func, tensor, placeholder


def _num_outputs(node, op_def):
  def attr(name):
    value = node.attr.get(name)
    if value is None:  # Not written: the op's default.
      value = next(a.default_value for a in op_def.attr if a.name == name)
    return value
  count = 0
  for arg in op_def.output_arg:
    if arg.number_attr:
      count += attr(arg.number_attr).i
    elif arg.type_list_attr:
      count += len(attr(arg.type_list_attr).list.type)
    else:
      count += 1
  return count


def _evaluate_eagerly(nodes, order, needed, targets, tensors):
  """tensor -> (value, dtype) of `targets`, each op run on its own kernel;
  `order` lists the foldable names in execution order."""
  ctx = eager_context.context()
  results = {}
  for name in order:
    if name not in needed:
      continue
    node = nodes[name]
    if node.op == "Const":
      dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
      results[node.name] = [tf.constant(tensors.value(node), dtype=dtype)]
      continue
    op_def = op_def_registry.get(node.op)
    attrs = []
    for key, value in node.attr.items():
      if not key.startswith("_"):
        attrs.extend((key, _attr(value)))
    inputs = [results[graph_utils.node_name(i)][graph_utils.output_index(i)]
              for i in graph_utils.data_inputs(node)]
    results[node.name] = execute.execute(
        node.op, _num_outputs(node, op_def), inputs, tuple(attrs), ctx)
  values = {}
  for name in targets:
    src, slot = name.rsplit(":", 1)
    tensor = results[src][int(slot)]
    values[name] = (tensor.numpy(), tensor.dtype)
  return values


def _evaluate(graph_def, foldable, targets, max_bytes, tensors):
  """Runs the foldable ancestors of `targets` in TensorFlow; tensor -> value.

  `foldable` is _foldable's result, in execution order."""
  nodes = graph_utils.node_map(graph_def)
  needed = _needed(nodes, targets)
  if tf.executing_eagerly():
    try:
      values = _evaluate_eagerly(nodes, foldable, needed, targets, tensors)
    except _NotEager:
      pass
    except (tf.errors.OpError, ValueError, TypeError) as e:
      _could_not_evaluate(e)
    else:
      return {name: value for name, value in values.items()
              if np.asarray(value[0]).nbytes <= max_bytes}
  return _evaluate_in_session(graph_def, needed, targets, max_bytes, tensors)


def _could_not_evaluate(error):
  first = (str(error).strip().splitlines()[0] if str(error).strip()
           else type(error))
  raise TransformError(f"fold_constants: TensorFlow could not evaluate the "
                       f"constant subgraph: {first}") from None


def _evaluate_in_session(graph_def, needed, targets, max_bytes, tensors):
  """_evaluate for what eager execution cannot run: a Session on the
  imported subgraph."""
  sub = tf.compat.v1.GraphDef()
  sub.versions.CopyFrom(graph_def.versions)
  for node in graph_def.node:
    if node.name in needed:
      copy = tensors.copy_node(node, sub.node.add())
      copy.ClearField("device")
      del copy.input[:]
      copy.input.extend(graph_utils.data_inputs(node))
      for key in [k for k in copy.attr if k.startswith("_")]:
        del copy.attr[key]
  graph = tf.Graph()
  try:
    with graph.as_default():
      tf.graph_util.import_graph_def(sub, name="")
    fetch = []
    for name in targets:
      tensor = graph.get_tensor_by_name(name)
      shape = tensor.shape
      if shape.is_fully_defined() and (shape.num_elements() *
                                       tensor.dtype.size > max_bytes):
        continue
      fetch.append(name)
    # The subgraph is evaluated as it is; Grappler's rewrites would only
    # cost time.
    config = tf.compat.v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    with tf.compat.v1.Session(graph=graph, config=config) as session:
      values = session.run(fetch)
  except (tf.errors.OpError, ValueError, TypeError) as e:
    _could_not_evaluate(e)
  dtypes = {name: graph.get_tensor_by_name(name).dtype for name in fetch}
  return {name: (value, dtypes[name]) for name, value in zip(fetch, values)
          if np.asarray(value).nbytes <= max_bytes}


def _prune(graph_def, context):
  """Keeps what the outputs need, stopping at the inputs (RemoveUnusedNodes)."""
  inputs = {graph_utils.node_name(i) for i in context.input_names}
  graph_utils.keep_nodes(graph_def, inputs | graph_utils.needed_nodes(
      graph_def, context.output_names, inputs))


def transform(graph_def, context):
  context.require_outputs()
  clear_shapes = context.get_one_bool("clear_output_shapes", True)
  max_bytes = context.get_one_int("max_constant_size_in_bytes", 10 << 20)
  foldable = _foldable(graph_def, context, max_bytes)
  targets = _targets(graph_def, foldable)
  values = (_evaluate(graph_def, foldable, targets, max_bytes,
                      context.tensors) if targets else {})
  # Only now, with everything computed, is the graph changed.
  existing = {node.name for node in graph_def.node}
  renames = {}
  for tensor_name, (value, dtype) in values.items():
    src, slot = tensor_name.rsplit(":", 1)
    const_name = f"{src}__cf__{slot}"
    while const_name in existing:
      const_name += "_"
    existing.add(const_name)
    const = graph_utils.set_const(graph_def.node.add(), const_name,
                                  np.asarray(value), dtype)
    const.input.extend("^" + c for c in sorted(foldable[src]))
    renames[tensor_name] = const_name
    if slot == "0":
      renames[src] = const_name
  graph_utils.rename_inputs(graph_def, renames)
  if clear_shapes:
    for node in graph_def.node:
      if "_output_shapes" in node.attr:
        del node.attr["_output_shapes"]
  _prune(graph_def, context)
  return graph_def
