"""Reading and writing GraphDef files: checked on the way in, atomic on the way out.

Frozen graphs are large (AlexNet at 227x227 is ~234 MB), so a binary file is
parsed one node at a time and written one node at a time: the file's bytes
and the parsed message are never both in memory in full. With a TensorStore
large Const contents are not copied into the message at all.
"""

import math
import os

from google.protobuf import message as pb_message
from google.protobuf import text_format
import tensorflow as tf
from tensorflow.core.framework import graph_pb2
from tensorflow.core.framework import tensor_pb2

from alexnet.core.errors import UserError, first_line
from alexnet.core.atomic_files import atomic_path
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import tensor_store
from alexnet.graph_tools import wire

def looks_like_text(head):
  """True when the first bytes of a file read as a text-format GraphDef."""
  try:
    text = head.decode("utf-8", errors="strict")
  except UnicodeDecodeError:
    # A multi-byte character cut at the end of `head` is still text.
    try:
      text = head[:-3].decode("utf-8", errors="strict")
    except UnicodeDecodeError:
      return False
  stripped = text.lstrip()
  while stripped.startswith("#"):
    stripped = stripped.partition("\n")[2].lstrip()
  return (stripped.split("{")[0].split(":")[0].strip() in
          ("node", "versions", "library", "version", "debug_info", ""))


def _read_varint(f, path):
  result, shift = 0, 0
  while True:
    byte = f.read(1)
    if not byte:
      return None if shift == 0 else _truncated(path)
    b = byte[0]
    result |= (b & 0x7F) << shift
    if not b & 0x80:
      return result
    shift += 7
    if shift > 63:
      raise UserError(f"{path} is not a binary GraphDef (bad varint): "
                      "pass a .pb written by tf.io.write_graph or freeze")


def _truncated(path):
  raise UserError(f"{path} is truncated or not a binary GraphDef: "
                  "write it again (tf.io.write_graph, tools/freeze.py)")


def _parse_binary(path, tensors):
  """Parses a binary file too large for one read, node by node."""
  graph_def = graph_pb2.GraphDef()
  with open(path, "rb") as f:
    while True:
      key = _read_varint(f, path)
      if key is None:
        break
      wire_type = key & 7
      if wire_type == wire.LENGTH_DELIMITED:
        length = _read_varint(f, path)
        if length is None:
          _truncated(path)
        # Mutable, so that transforms can rewrite stored weights in place.
        payload = bytearray(length)
        if f.readinto(payload) != length:
          _truncated(path)
      elif wire_type == wire.VARINT:
        payload = _read_varint(f, path)
        if payload is None:
          _truncated(path)
      else:
        raise UserError(f"{path} is not a binary GraphDef (unexpected wire "
                        f"type {wire_type}): pass a GraphDef .pb file")
      try:
        if key == wire.tag(wire.GRAPH_NODE, wire.LENGTH_DELIMITED)[0]:
          # Nodes are parsed on their own: no second copy of the record.
          tensors.parse_node(graph_def, payload)
        elif wire_type == wire.VARINT:
          graph_def.MergeFromString(wire.encode_varint(key) +
                                    wire.encode_varint(payload))
        else:
          graph_def.MergeFromString(wire.encode_varint(key) +
                                    wire.encode_varint(length) + payload)
      except (pb_message.DecodeError, ValueError) as e:
        raise UserError(f"{path} is not a valid binary GraphDef ({e}): "
                        "pass a GraphDef .pb file") from None
      payload = None  # Free the record before reading the next.
  return graph_def


def _parse_text(text, what):
  graph_def = graph_pb2.GraphDef()
  try:
    text_format.Merge(text.decode("utf-8") if isinstance(text, bytes)
                      else text, graph_def)
  except (text_format.ParseError, UnicodeDecodeError) as e:
    raise UserError(f"{what} is not a valid text GraphDef ({first_line(e)}): "
                    "it is truncated or not a GraphDef; pass a GraphDef "
                    ".pbtxt or .pb file") from None
  return graph_def


# TensorProto's repeated value fields (float_val, int_val, ...).
_VALUE_FIELDS = frozenset(f for f in tensor_pb2.TensorProto.DESCRIPTOR.fields
                          if f.name.endswith("_val"))
_ITEMSIZE = {}  # DataType enum -> bytes per element (0: not fixed-size)
_COMPLEX = (tf.complex64.as_datatype_enum, tf.complex128.as_datatype_enum)


def _itemsize(dtype_enum):
  if dtype_enum not in _ITEMSIZE:
    try:
      dtype = tf.dtypes.as_dtype(dtype_enum)
      _ITEMSIZE[dtype_enum] = 0 if dtype == tf.string else dtype.size
    except TypeError:
      _ITEMSIZE[dtype_enum] = 0
  return _ITEMSIZE[dtype_enum]


# Serialized TensorShapeProto -> (dims, element count, None if a dim is
# unknown): one C call per Const instead of reading each dim in Python.
_SHAPES = {}


def _shape(tensor):
  key = tensor.tensor_shape.SerializeToString()
  shape = _SHAPES.get(key)
  if shape is None:
    if len(_SHAPES) > 4096:
      _SHAPES.clear()
    dims = [d.size for d in tensor.tensor_shape.dim]
    shape = _SHAPES[key] = (dims, None if any(d < 0 for d in dims)
                            else math.prod(dims))
  return shape


def _check_consts(consts, tensors, what):
  """UserError naming the first of the Const nodes `consts` whose stored
  bytes do not fit its dtype and shape (a corrupt or hand-edited file)."""
  stored = tensors is not None and tensors.holds_contents()
  for node in consts:
    attr = node.attr
    if "value" not in attr:
      continue
    tensor = attr["value"].tensor
    itemsize = _itemsize(tensor.dtype)
    if not itemsize:
      continue
    size = (tensors.content_size(node) if stored else
            len(tensor.tensor_content))
    if not size:
      # One call lists the value fields that are set, instead of reading
      # each of the ~14 by name; one value (or none) fits any shape, so the
      # shape is read only for more.
      values = max([len(value) for field, value in tensor.ListFields()
                    if field in _VALUE_FIELDS] or [0])
      if values <= 1:
        continue
    dims, count = _shape(tensor)
    if count is None:
      continue
    if size:
      if size == count * itemsize:
        continue
      problem = (f"holds {size} bytes but its "
                 f"{tf.dtypes.as_dtype(tensor.dtype).name} shape {dims} "
                 f"needs {count * itemsize}")
    else:
      if values <= max(count, 1) * (2 if tensor.dtype in _COMPLEX else 1):
        continue
      problem = f"holds {values} values but its shape {dims} has {count}"
    raise UserError(f"{what}: Const node '{node.name}' {problem}: the file is "
                    "corrupt; write the graph again")


def _is_text(head, what, binary):
  """Whether `head`, a file's first bytes, starts a text GraphDef; UserError
  if it is empty or not in the format `binary` insists on."""
  if not head:
    raise UserError(f"{what} is empty: write the graph again")
  is_text = looks_like_text(head)
  if binary is True and is_text:
    raise UserError(f"{what} is a text GraphDef but was given as binary: "
                    "pass --input_binary=false")
  if binary is False and not is_text:
    raise UserError(f"{what} is a binary GraphDef but was given as text: "
                    "pass --input_binary=true")
  return is_text


def parse_graph_def(data, what="the serialized graph", binary=None):
  """A GraphDef from its serialized bytes (binary, or text as detected),
  checked as load_graph_def checks a file; the counterpart of the C++ tool's
  string interface (TransformGraphWithStringInputs). `what` names the bytes
  in errors; `binary` as for load_graph_def."""
  if _is_text(data[:4096], what, binary):
    graph_def = _parse_text(data, what)
  else:
    graph_def = graph_pb2.GraphDef()
    try:
      graph_def.ParseFromString(data)
    except pb_message.DecodeError:
      _truncated(what)
  consts = []
  check_graph(graph_def, what, consts)
  _check_consts(consts, None, what)
  return graph_def


def load_graph_def(path, binary=None, tensors=None):
  """Reads a GraphDef and checks it is one.

  Args:
    path: the file.
    binary: True or False to insist on that format (like freeze_graph's
      --input_binary); None to detect it (like transform_graph).
    tensors: a TensorStore to hold large Const contents outside the proto
      (binary files only); None keeps everything in the GraphDef.
  Raises:
    UserError: missing, truncated or non-GraphDef file, wrong format for
      `binary`, or nodes whose inputs name no node.
  """
  if not os.path.isfile(path):
    raise UserError(f"graph file {path} does not exist: check the path")
  tensors = tensors or tensor_store.TensorStore(detach_min_bytes=None)
  with open(path, "rb") as f:
    if os.path.getsize(path) < tensors.streaming_min_bytes():
      # Nothing to detach and no memory to save: one parse in C is much
      # faster than a Python loop over the nodes.
      return parse_graph_def(f.read(), path, binary)
    is_text = _is_text(f.read(4096), path, binary)
    if is_text:
      f.seek(0)
      graph_def = _parse_text(f.read(), path)
  if not is_text:
    graph_def = _parse_binary(path, tensors)
  consts = []
  check_graph(graph_def, path, consts)
  _check_consts(consts, tensors, path)
  return graph_def


def check_graph(graph_def, what, consts=None):
  """Raises UserError unless every node is named, typed and its inputs exist;
  returns the set of node names. Appends the Const nodes to the list
  `consts` if given (for the loaders' check of their contents, in the same
  pass)."""
  nodes = graph_def.node
  if not nodes:
    raise UserError(f"{what} holds no nodes: pass a GraphDef file")
  names = set()
  inputs = []
  # One pass over the nodes, and the inputs compared as a set: each access
  # to a field of a message costs more than the set operations (and a slice
  # copies a repeated field to a list in C, faster than iterating it).
  for node in nodes:
    name, op = node.name, node.op
    if not name or not op:
      raise UserError(f"{what} is not a GraphDef (a node without name or op): "
                      "pass a GraphDef file")
    if name in names:
      raise UserError(f"{what} has two nodes named '{name}': "
                      "rebuild the graph")
    names.add(name)
    inputs += node.input[:]
    if op == "Const" and consts is not None:
      consts.append(node)
  # Most inputs are plain names: only the others are parsed.
  if any(graph_utils.node_name(inp) not in names
         for inp in set(inputs).difference(names)):
    for node in nodes:
      for inp in node.input:
        if graph_utils.node_name(inp) not in names:
          raise UserError(f"{what}: node '{node.name}' reads '{inp}', which "
                          "is no node of the graph (truncated or edited "
                          "file?)")
  return names


def check_names(graph_def, names, what, existing=None):
  """Raises UserError for a name in `names` that is no node of the graph
  (`existing`: its node names, where the caller has them)."""
  if existing is None:
    existing = {node.name for node in graph_def.node}
  for name in names:
    if graph_utils.node_name(name) not in existing:
      raise UserError(f"{what} '{name}' is not a node of the graph: "
                      "run tools/summarize.py to list likely names")


def _write_binary(graph_def, f, tensors):
  # Each node is written on its own (large contents straight from the
  # store) so that the serialized graph never exists as one more copy.
  if not tensors.holds_contents() and (
      graph_def.ByteSize() < tensor_store.DETACH_MIN_BYTES):
    f.write(graph_def.SerializeToString())  # Small: one call in C.
    return
  node_tag = wire.tag(wire.GRAPH_NODE, wire.LENGTH_DELIMITED)
  for node in graph_def.node:
    parts = tensors.serialized_parts(node)
    size = sum(memoryview(part).nbytes for part in parts)
    f.write(node_tag + wire.encode_varint(size))
    for part in parts:
      f.write(part)
  f.write(graph_utils.copy_without_nodes(graph_def).SerializeToString())


def save_graph_def(graph_def, path, as_text=False, tensors=None):
  """Writes `graph_def` to `path` atomically (binary unless `as_text`).

  `tensors` is the TensorStore the graph was loaded with, if any.
  """
  tensors = tensors or tensor_store.TensorStore(detach_min_bytes=None)
  with atomic_path(path) as tmp:
    if as_text:
      with open(tmp, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(
            tensors.attached_copy(graph_def)))
    else:
      with open(tmp, "wb") as f:
        _write_binary(graph_def, f, tensors)


def import_graph(graph_def, path="the graph"):
  """A new tf.Graph holding `graph_def` under its own node names; UserError
  naming `path` if TensorFlow cannot import it (unknown ops, bad attributes,
  mismatched types)."""
  graph = tf.Graph()
  try:
    with graph.as_default():
      tf.graph_util.import_graph_def(graph_def, name="")
  except (ValueError, TypeError, tf.errors.OpError) as e:
    raise UserError(f"{path} does not import into TensorFlow ({first_line(e)}): "
                    "regenerate it, or check the transforms that wrote it"
                    ) from None
  return graph


def io_tensors(graph, path, input_name, output_name):
  """(input tensor, output tensor) by node name; UserError naming the one
  that is no node of the graph."""
  found = []
  for kind, name in (("input", input_name), ("output", output_name)):
    node = graph_utils.node_name(name)
    try:
      found.append(graph.get_operation_by_name(node).outputs[0])
    except (KeyError, IndexError):
      raise UserError(f"{path} has no {kind} node '{node}': check "
                      f"--{kind}_arrays (tools/summarize.py --in_graph={path} "
                      "lists the likely inputs and outputs)") from None
  return tuple(found)
