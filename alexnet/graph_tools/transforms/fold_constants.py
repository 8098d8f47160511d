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
non-foldable node reads is computed once -- by TensorFlow itself: the
foldable subgraph is imported into a tf.Graph and run in a Session -- and
stored as a new Const named `NODE__cf__N` that keeps the control inputs the
folded nodes had from outside. Finally everything the --outputs do not need
is removed, as the C++ tool does. Consts larger than the size limit are not
fed into folding at all (their results would be too large to store anyway).

TensorFlow folds constants itself when it loads a graph, so this rarely
speeds anything up; it makes the graph simpler for other transforms
(fold_batch_norms needs it) and for converters.
"""

import numpy as np
import tensorflow as tf
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
  """name -> set of control inputs (from outside the folded set) to keep."""
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


def _evaluate(graph_def, targets, max_bytes, tensors):
  """Runs the foldable ancestors of `targets` in TensorFlow; tensor -> value."""
  nodes = graph_utils.node_map(graph_def)
  needed, pending = set(), list(set(targets.values()))
  while pending:
    name = pending.pop()
    if name in needed:
      continue
    needed.add(name)
    pending.extend(graph_utils.node_name(i)
                   for i in graph_utils.data_inputs(nodes[name]))
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
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e)
    raise TransformError(f"fold_constants: TensorFlow could not evaluate the "
                         f"constant subgraph: {first}") from None
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
  values = _evaluate(graph_def, targets, max_bytes, context.tensors) \
      if targets else {}
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
