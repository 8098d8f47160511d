"""sparsify_gather: turn Gathers from [N, 1] weights into hash-table lookups.

Options:
  group_init_node: the NoOp that initializes the tables (default
    'group_deps'; created when the graph has no node of that name).
  input_checkpoint: the checkpoint holding the values of Variable weights
    (a prefix such as model.ckpt; needed only when weights are Variables).

Linear models over sparse features keep a [N, 1] float weight per feature
id, mostly zero. Every `Gather` / `GatherV2` (axis 0) reading such weights
through an Identity -- `Gather(Identity(W), ids)` with W a Const, Variable
or VariableV2, as tf.compat.v1 writes it, or straight from a Const, as
frozen TensorFlow 2 graphs have it -- becomes

  W/indices, W/values   Consts of the ids whose |weight| >= 1e-5 and their
                        weights (one (0, 0) pair when there is none)
  W/HashTable           HashTable int64 -> float, filled by
  W/InitializeTable     which the NoOp `group_init_node` waits for
  G/LookupTableFind     looks the ids up (0 for ids not in the table;
                        int32 ids go through a Cast G/Cast first)
  G                     ExpandDims(lookup, -1): the Gather's name and shape

Weights shared by several Gathers get one table. The weights and their
Identity are then removed, and so is what only they fed, as the C++ tool
does: initializers and restoring Assigns of a Variable go, control inputs
on removed nodes are dropped and a ConcatV2 reading them loses that input
(one left: it becomes an Identity). A weight something else still needs
(another op, a SaveV2) is kept. Weights matched through an Identity that
are not float [N, 1], or a GatherV2 with an axis other than 0, are errors;
Consts read directly are left alone then.

Run group_init_node (e.g. as the graph's init op) before the lookups: an
uninitialized table fails. The file shrinks by the zero weights; lookups
cost about what a Gather does.
"""

import collections

import numpy as np
from tensorflow.core.framework import node_def_pb2
from tensorflow.core.framework import types_pb2

from alexnet.core.errors import UserError
from alexnet.estimator import checkpoints
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError
from alexnet.graph_tools.transforms import rename_node

_WEIGHT_OPS = ("Const", "Variable", "VariableV2")
# Readers that the C++ tool removes once they are left with one input.
_ONE_INPUT_REMOVED = ("Assign", "Reshape", "Equal", "Mean", "ScalarSummary")


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ("group_init_node", "input_checkpoint")


def _fail(message):
  return TransformError(f"sparsify_gather: {message}")


def _matches(graph_def, nodes, tensors):
  """[(gather, identity or None, weights)] of the Gathers to replace."""
  found = []
  for gather in graph_def.node:
    inputs = graph_utils.data_inputs(gather)
    if (gather.op, len(inputs)) not in (("Gather", 2), ("GatherV2", 3)):
      continue
    params = nodes.get(graph_utils.node_name(inputs[0]))
    identity = None
    if params is not None and params.op == "Identity" and len(
        graph_utils.data_inputs(params)) == 1:
      identity = params
      params = nodes.get(graph_utils.node_name(params.input[0]))
    if params is None or params.op not in _WEIGHT_OPS or (
        identity is None and params.op != "Const"):
      continue
    if gather.op == "GatherV2":
      axis = nodes.get(graph_utils.node_name(inputs[2]))
      if axis is None or axis.op != "Const":
        continue
      axis = int(tensors.value(axis))
      if axis != 0:
        if identity is None:
          continue
        raise _fail(f"'{gather.name}' gathers over axis {axis}; only axis 0 "
                    "can be a lookup")
    if identity is None and not _is_sparse_shape(params):
      continue
    found.append((gather, identity, params))
  return found


def _is_sparse_shape(node):
  shape = node.attr["value"].tensor.tensor_shape
  return (node.attr["dtype"].type == types_pb2.DT_FLOAT and
          len(shape.dim) == 2 and shape.dim[1].size == 1)


def _open_checkpoint(path):
  if path is None:
    return None
  try:
    return checkpoints.Reader(path)
  except UserError as e:
    raise _fail(f"'input_checkpoint': {e}") from None


def _saved_slice(graph_def, nodes, variable):
  """The shape-and-slice string the graph's saver restores `variable` with
  ('save/Assign*' reading output k of a RestoreV2), '' when none does."""
  for node in graph_def.node:
    parts = node.name.split("/")
    if (len(parts) == 2 and parts[0].startswith("save") and
        parts[1].startswith("Assign") and len(node.input) > 1 and
        node.input[0] == variable):
      restore = nodes.get(graph_utils.node_name(node.input[1]))
      if restore is None or restore.op != "RestoreV2":
        return ""
      slices = graph_utils.const_value(
          nodes[graph_utils.node_name(restore.input[2])]).reshape(-1)
      return slices[graph_utils.output_index(node.input[1])].decode()
  return ""


def _slice(value, spec):
  """`value` cut to the slice of a 'D0 D1 start,length:-' spec."""
  if not spec:
    return value
  ranges = spec.split(" ")[-1].split(":")
  index = []
  for extent in ranges:
    if extent == "-":
      index.append(slice(None))
    else:
      start, length = (int(v) for v in extent.split(","))
      index.append(slice(start, start + length))
  return value[tuple(index)]


def _weight_value(weights, graph_def, nodes, context, reader):
  if weights.op == "Const":
    return context.tensors.value(weights)
  if reader is None:
    raise _fail(f"'{weights.name}' is a {weights.op}: pass "
                "input_checkpoint=PATH to read its value")
  # A partition 'w/part_1' is saved as a slice of 'w'.
  scope, _, last = weights.name.rpartition("/")
  key = scope if scope and last.startswith("part_") else weights.name
  if not reader.has_tensor(key):
    raise _fail(f"'input_checkpoint' holds no tensor '{key}' for "
                f"'{weights.name}'")
  try:
    value = reader.get_tensor(key)
  except UserError as e:
    raise _fail(f"'input_checkpoint': {e}") from None
  return _slice(value, _saved_slice(graph_def, nodes, weights.name))


def _node(name, op, inputs=(), **types):
  node = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
  for key, dtype in types.items():
    node.attr[key].type = dtype
  return node


def _table_nodes(weights, value):
  """W/indices, W/values, W/HashTable and W/InitializeTable for `value`."""
  if value.ndim != 2 or value.shape[1] != 1:
    raise _fail(f"'{weights.name}' has the shape {list(value.shape)}; only "
                "[N, 1] weights can become a table")
  flat = value.reshape(-1)
  # Compared in double precision, as the C++ code does.
  ids = np.flatnonzero(np.abs(flat.astype(np.float64)) >= 1e-5)
  values = flat[ids]
  if not ids.size:
    # An empty table cannot be initialized.
    ids, values = np.zeros(1, np.int64), np.zeros(1, np.float32)
  name = weights.name
  indices = graph_utils.set_const(node_def_pb2.NodeDef(), name + "/indices",
                                  ids.astype(np.int64))
  weight_values = graph_utils.set_const(node_def_pb2.NodeDef(),
                                        name + "/values",
                                        values.astype(np.float32))
  table = _node(name + "/HashTable", "HashTable", key_dtype=types_pb2.DT_INT64,
                value_dtype=types_pb2.DT_FLOAT)
  init = _node(name + "/InitializeTable", "InitializeTable",
               [table.name, indices.name, weight_values.name],
               Tkey=types_pb2.DT_INT64, Tval=types_pb2.DT_FLOAT)
  return [indices, weight_values, table, init]


def _lookup_nodes(gather, table):
  """The nodes replacing `gather`, the last one under its name."""
  name = gather.name
  ids = gather.input[1]
  new = []
  if "Tindices" in gather.attr and (
      gather.attr["Tindices"].type == types_pb2.DT_INT32):
    new.append(_node(name + "/Cast", "Cast", [ids], SrcT=types_pb2.DT_INT32,
                     DstT=types_pb2.DT_INT64))
    new[-1].attr["Truncate"].b = False
    ids = new[-1].name
  default = graph_utils.set_const(node_def_pb2.NodeDef(), name + "/Const",
                                  np.float32(0))
  lookup = _node(name + "/LookupTableFind", "LookupTableFind",
                 [table, ids, default.name], Tin=types_pb2.DT_INT64,
                 Tout=types_pb2.DT_FLOAT)
  dim = graph_utils.set_const(node_def_pb2.NodeDef(),
                              name + "/ExpandDims/Const", np.int32(-1))
  expand = _node(name, "ExpandDims", [lookup.name, dim.name],
                 T=types_pb2.DT_FLOAT, Tdim=types_pb2.DT_INT32)
  expand.input.extend(i for i in gather.input if graph_utils.is_control(i))
  return new + [default, lookup, dim, expand]


def _removal(ops, inputs, roots, protected):
  """Works out the C++ tool's removal of `roots` on names and inputs alone.

  A removed node's readers lose that input; Assign-like readers left with
  one input, and nodes left with none or read by removed nodes only, go
  too; a ConcatV2 left with one value becomes an Identity.
  Returns (removed names, inputs by name, ConcatV2s to make Identities,
  {reader that lost a data input and stays: the root that caused it}).
  """
  inputs = {name: list(ins) for name, ins in inputs.items()}
  readers = {}
  refs = collections.Counter()
  for name, ins in inputs.items():
    for inp in ins:
      refs[graph_utils.node_name(inp)] += 1
      readers.setdefault(graph_utils.node_name(inp), set()).add(name)
  removed = set()
  to_identity = set()
  lost = {}
  pending = [(root, root) for root in reversed(roots)]
  while pending:
    name, root = pending.pop()
    if (name in removed or name not in ops or name in protected or
        ops[name] == "RestoreV2"):
      continue
    removed.add(name)
    for inp in inputs[name]:
      src = graph_utils.node_name(inp)
      refs[src] -= 1
      if refs[src] == 0:
        pending.append((src, root))
    for reader in readers.get(name, ()):
      if reader in removed:
        continue
      before = inputs[reader]
      after = [i for i in before if graph_utils.node_name(i) != name]
      cut = any(not graph_utils.is_control(i) and
                graph_utils.node_name(i) == name for i in before)
      data = [i for i in after if not graph_utils.is_control(i)]
      if cut and ops[reader] == "ConcatV2" and reader not in to_identity:
        if len(data) == 2:
          # One value and the axis: the axis goes, the value passes through.
          after.remove(data[1])
          axis = graph_utils.node_name(data[1])
          refs[axis] -= 1
          if refs[axis] == 0:
            pending.append((axis, root))
          to_identity.add(reader)
          data = data[:1]
      elif cut:
        lost[reader] = root
      inputs[reader] = after
      if (ops[reader] in _ONE_INPUT_REMOVED and len(data) == 1) or not after:
        pending.append((reader, root))
  broken = {r: root for r, root in lost.items() if r not in removed}
  return removed, inputs, to_identity, broken


def transform(graph_def, context):
  group_init = context.get_one_string("group_init_node", "group_deps")
  if not rename_node.NODE_NAME.match(group_init):
    raise _fail(f"'group_init_node' must be a node name, got {group_init!r}")
  reader = _open_checkpoint(context.get_one_string("input_checkpoint"))
  nodes = graph_utils.node_map(graph_def)
  init = nodes.get(group_init)
  if init is not None and init.op != "NoOp":
    raise _fail(f"'group_init_node' {group_init!r} is a {init.op}, not a "
                "NoOp")
  matches = _matches(graph_def, nodes, context.tensors)
  # Everything is planned on names before the graph changes, so that an
  # error leaves it as it was.
  tables = {}
  replacements = {}
  for gather, _, weights in matches:
    if weights.name not in tables:
      if weights.attr["dtype"].type != types_pb2.DT_FLOAT:
        raise _fail(f"'{weights.name}' is not float; only float weights can "
                    "become a table")
      tables[weights.name] = _table_nodes(
          weights, _weight_value(weights, graph_def, nodes, context, reader))
    replacements[gather.name] = _lookup_nodes(
        gather, weights.name + "/HashTable")
  added = [n for ns in tables.values() for n in ns] + [
      n for name, ns in replacements.items() for n in ns if n.name != name]
  taken = set(nodes)
  for node in added:
    if node.name in taken:
      raise _fail(f"the graph already has a node named '{node.name}'")
    taken.add(node.name)

  ops = {n.name: n.op for n in graph_def.node}
  inputs = {n.name: list(n.input) for n in graph_def.node}
  for node in added + [ns[-1] for ns in replacements.values()]:
    ops[node.name], inputs[node.name] = node.op, list(node.input)
  if matches:
    ops.setdefault(group_init, "NoOp")
    inputs.setdefault(group_init, []).extend(
        f"^{name}/InitializeTable" for name in tables)
  roots = []
  for gather, identity, weights in matches:
    roots += [n.name for n in (identity, weights) if n is not None]
    if gather.op == "GatherV2":
      roots.append(graph_utils.node_name(gather.input[2]))
  protected = {graph_utils.node_name(n)
               for n in context.input_names + context.output_names}
  while True:
    removed, inputs_after, to_identity, broken = _removal(
        ops, inputs, list(dict.fromkeys(roots)), protected)
    if not broken:
      break
    # Something still needs that weight (or axis): it stays.
    protected.update(broken.values())

  position = {n.name: (i, 0) for i, n in enumerate(graph_def.node)}
  for gather, _, weights in matches:
    index = position[gather.name][0]
    new = tables.pop(weights.name, []) + replacements[gather.name]
    for rank, node in enumerate(new):
      position[node.name] = (index, rank)
    nodes[gather.name].CopyFrom(new[-1])
    graph_def.node.extend(new[:-1])
  if matches and group_init not in nodes:
    graph_def.node.add(name=group_init, op="NoOp")
    position[group_init] = (len(position), 0)
  for node in graph_def.node:
    if "_output_shapes" in node.attr:
      del node.attr["_output_shapes"]
    new_inputs = inputs_after[node.name]
    if new_inputs != list(node.input):
      del node.input[:]
      node.input.extend(new_inputs)
    if node.name in to_identity:
      node.op = "Identity"
      for key in ("N", "Tidx"):
        if key in node.attr:
          del node.attr[key]
    elif node.op == "ConcatV2" and "N" in node.attr:
      node.attr["N"].i = len(graph_utils.data_inputs(node)) - 1
  graph_utils.keep_nodes(graph_def, set(ops) - removed)
  graph_def.node.sort(key=lambda n: position[n.name])
  return graph_def
