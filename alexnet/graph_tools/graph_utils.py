"""Small GraphDef helpers: input-name parsing, node lookups, Const values.

Const values are read as numpy views of the stored bytes and written back
once, so weight-sized tensors are not copied more than needed.
"""

import numpy as np
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow.python.framework import dtypes
from tensorflow.python.framework import op_def_registry
from tensorflow.python.framework import tensor_util


def node_name(tensor_or_input):
  """'^a', 'a:1', 'a' -> 'a'."""
  name = tensor_or_input[1:] if tensor_or_input.startswith("^") else (
      tensor_or_input)
  base, sep, index = name.rpartition(":")
  return base if sep and index.isdigit() else name


def split_input(input_name):
  """'^a' -> ('^', 'a', ''); 'a:1' -> ('', 'a', ':1'); 'a' -> ('', 'a', '')."""
  prefix = "^" if input_name.startswith("^") else ""
  name = node_name(input_name)
  return prefix, name, input_name[len(prefix) + len(name):]


def is_control(input_name):
  return input_name.startswith("^")


def output_index(input_name):
  """Output slot an input string reads ('a' and 'a:0' -> 0)."""
  suffix = split_input(input_name)[2]
  return int(suffix[1:]) if suffix else 0


def data_inputs(node):
  return [i for i in node.input if not is_control(i)]


def node_map(graph_def):
  """name -> NodeDef."""
  return {node.name: node for node in graph_def.node}


def consumers(graph_def):
  """name -> list of (consumer NodeDef, input position) reading it."""
  result = {}
  for node in graph_def.node:
    for pos, inp in enumerate(node.input):
      result.setdefault(node_name(inp), []).append((node, pos))
  return result


def needed_nodes(graph_def, outputs, stop=()):
  """Names of the nodes `outputs` depend on (themselves included), not
  looking past the nodes in `stop` (which are included when reached).

  Raises KeyError naming the first node that is not in the graph.
  """
  nodes = node_map(graph_def)
  stop = set(stop)
  needed = set()
  pending = [node_name(o) for o in outputs]
  while pending:
    name = pending.pop()
    if name in needed:
      continue
    needed.add(name)
    if name in stop:
      continue
    if name not in nodes:
      raise KeyError(name)
    # Most inputs are plain names: only the others are parsed.
    pending.extend(i if i in nodes else node_name(i)
                   for i in nodes[name].input[:])
  return needed


def copy_without_nodes(graph_def):
  """A GraphDef with everything of `graph_def` but its nodes."""
  copy = type(graph_def)()
  for field, value in graph_def.ListFields():
    if field.name == "node":
      continue
    if field.message_type is not None:
      getattr(copy, field.name).CopyFrom(value)
    else:
      setattr(copy, field.name, value)
  return copy


def keep_nodes(graph_def, keep):
  """Deletes the nodes whose names are not in `keep`, in place, keeping order,
  and the colocation hints that named them (see update_colocation).

  Nodes are moved, not copied: the survivors are sorted to the front and the
  tail is cut off.
  """
  order = {node.name: i for i, node in enumerate(graph_def.node)}
  total = len(order)
  kept = sum(1 for name in order if name in keep)
  if kept < total:  # Else nothing moves.
    graph_def.node.sort(
        key=lambda n: order[n.name] if n.name in keep else total + order[n.name])
    del graph_def.node[kept:]
  update_colocation(graph_def.node,
                    existing={name for name in order if name in keep})


# Colocation hints: attr "_class" lists b"loc:@NAME", "run me where NAME
# runs". TensorFlow refuses to import a graph whose hint names no node.
COLOCATION_ATTR = "_class"
_LOC = b"loc:@"


def update_colocation(nodes, renames=None, existing=None):
  """Keeps the `_class` colocation hints of `nodes` naming real nodes.

  Every transform that renames, merges or removes nodes calls it (removal
  through keep_nodes): a hint loc:@OLD becomes loc:@renames[OLD], and with
  `existing` (a set of node names, or None for no check) a hint naming no
  node in it is dropped; a node left without hints loses the attribute.
  Returns the nodes whose hints changed.
  """
  renames = renames or {}
  changed = []
  for node in nodes:
    if COLOCATION_ATTR not in node.attr:
      continue
    hints = node.attr[COLOCATION_ATTR].list.s
    new_hints = []
    for hint in hints:
      if hint.startswith(_LOC):
        target = hint[len(_LOC):].decode()
        target = renames.get(target, target)
        if existing is not None and target not in existing:
          continue
        hint = _LOC + target.encode()
      if hint not in new_hints:
        new_hints.append(hint)
    if new_hints == list(hints):
      continue
    changed.append(node)
    if new_hints:
      del hints[:]
      hints.extend(new_hints)
    else:
      del node.attr[COLOCATION_ATTR]
  return changed


def rename_inputs(graph_def, renames):
  """Rewrites inputs: a key 'x' (data, any slot spelled 'x' or 'x:0') or '^x'.

  `renames` maps the exact old input string to the new one; 'x' also covers
  'x:0'.
  """
  for node in graph_def.node:
    new_inputs = None
    for pos, inp in enumerate(node.input):
      key = inp[:-2] if inp.endswith(":0") and not is_control(inp) else inp
      target = renames.get(key)
      if target is not None:
        if new_inputs is None:
          new_inputs = list(node.input)
        new_inputs[pos] = target
    if new_inputs is not None:
      del node.input[:]
      node.input.extend(new_inputs)


def const_value(node):
  """The value of a Const node as a numpy array (a read-only view if possible)."""
  tensor = node.attr["value"].tensor
  dtype = dtypes.as_dtype(tensor.dtype)
  shape = [d.size for d in tensor.tensor_shape.dim]
  if tensor.tensor_content and dtype.is_numpy_compatible:
    return np.frombuffer(tensor.tensor_content,
                         dtype=dtype.as_numpy_dtype).reshape(shape)
  return tensor_util.MakeNdarray(tensor)


def num_elements(tensor_proto):
  """Element count from the shape of a TensorProto, without decoding it."""
  return int(np.prod([d.size for d in tensor_proto.tensor_shape.dim],
                     dtype=np.int64))


def make_tensor(array, dtype=None):
  """numpy array -> TensorProto, raw bytes for numeric types."""
  array = np.asarray(array)
  tf_dtype = dtypes.as_dtype(dtype if dtype is not None else array.dtype)
  if tf_dtype == dtypes.string:
    return tensor_util.make_tensor_proto(array, dtype=tf_dtype)
  tensor = tensor_pb2.TensorProto(dtype=tf_dtype.as_datatype_enum)
  for size in array.shape:
    tensor.tensor_shape.dim.add(size=size)
  tensor.tensor_content = np.ascontiguousarray(
      array, dtype=tf_dtype.as_numpy_dtype).tobytes()
  return tensor


def set_const(node, name, array, dtype=None):
  """Turns `node` into a Const `name` holding `array` (nothing else kept)."""
  tensor = make_tensor(array, dtype)
  node.Clear()
  node.name = name
  node.op = "Const"
  node.attr["dtype"].type = tensor.dtype
  node.attr["value"].tensor.CopyFrom(tensor)
  return node


def topological_order(graph_def):
  """Node indices in execution order (Kahn's algorithm, like the C++ tool).

  Ready nodes are kept on a stack, as the C++ SortByExecutionOrder does: the
  input-less nodes are pushed in file order, the most recently readied node
  is emitted first, and its consumers are pushed in file order. A Merge waits
  only for its non-NextIteration inputs so that loops do not deadlock.
  Raises ValueError for a cycle or an input naming no node.
  """
  nodes = list(graph_def.node)
  index = {node.name: i for i, node in enumerate(nodes)}
  ops = [node.op for node in nodes]
  pending = [0] * len(nodes)
  outputs = [[] for _ in nodes]
  ready = []
  for i, node in enumerate(nodes):
    is_merge = ops[i] in ("Merge", "RefMerge")
    count = 0
    for inp in node.input[:]:
      # Most inputs are plain names: looked up before they are parsed.
      src = index.get(inp)
      if src is None:
        src = index.get(node_name(inp))
        if src is None:
          raise ValueError(f"node '{node.name}' reads '{inp}', which is no "
                           "node")
      if is_merge and ops[src] == "NextIteration":
        continue
      count += 1
      outputs[src].append(i)
    pending[i] = count
    if count == 0:
      ready.append(i)
  order = []
  while ready:
    current = ready.pop()
    order.append(current)
    for out in outputs[current]:
      pending[out] -= 1
      if pending[out] == 0:
        ready.append(out)
  if len(order) != len(nodes):
    stuck = [nodes[i].name for i in range(len(nodes)) if pending[i] > 0]
    raise ValueError(f"the graph has a cycle through {stuck[:3]}")
  return order


def in_out_types(node):
  """(input dtypes, output dtypes) of a node's data inputs and outputs, as
  the C++ InOutTypesForNode gives them (attributes the node leaves unset
  take the op's default); None for an op TensorFlow 2.21 does not know."""
  op_def = op_def_registry.get(node.op)
  if op_def is None:
    return None
  defaults = {a.name: a.default_value for a in op_def.attr
              if a.HasField("default_value")}

  def attr(name):
    return node.attr[name] if name in node.attr else defaults.get(name)

  def types(args):
    result = []
    for arg in args:
      if arg.type_list_attr:
        value = attr(arg.type_list_attr)
        result.extend(value.list.type if value is not None else ())
        continue
      if arg.type_attr:
        value = attr(arg.type_attr)
        dtype = value.type if value is not None else types_pb2.DT_INVALID
      else:
        dtype = arg.type
      count = 1
      if arg.number_attr:
        value = attr(arg.number_attr)
        count = value.i if value is not None else 0
      result.extend([dtype] * count)
    return result

  return types(op_def.input_arg), types(op_def.output_arg)
