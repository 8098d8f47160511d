"""Large Const contents held next to the GraphDef instead of inside it.

Protobuf (upb) keeps a message's bytes in an arena that only grows: every
rewritten weight tensor would stay in memory twice until the whole graph is
freed. So the transform tool reads each large Const's `tensor_content`
straight from the file bytes into a TensorStore (no copy), leaves the
NodeDef with an empty content and a marker attribute naming the entry, and
writes the bytes back when it saves -- again without a copy. A rewritten
tensor simply replaces its entry, and the old one is freed.

Without a store (`TensorStore(detach_min_bytes=None)`, what in-memory
callers get) every value lives in the proto as usual. Transforms read and
write Const values only through `context.tensors`, so both work the same.
"""

import numpy as np
from tensorflow.core.framework import node_def_pb2
from tensorflow.core.framework import tensor_pb2
from tensorflow.python.framework import dtypes

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import wire

MARKER = "_graph_tools_tensor"
DETACH_MIN_BYTES = 1 << 20


class TensorStore:
  """Const contents by marker key; see the module docstring."""

  def __init__(self, detach_min_bytes=DETACH_MIN_BYTES):
    self.detach_min_bytes = detach_min_bytes
    self._contents = {}
    self._next_key = 0

  def streaming_min_bytes(self):
    """Files this large are read node by node (see graph_io): from the size
    at which a content could be detached, at most DETACH_MIN_BYTES."""
    if self.detach_min_bytes is None:
      return DETACH_MIN_BYTES
    return min(self.detach_min_bytes, DETACH_MIN_BYTES)

  def holds_contents(self):
    """True when some Const's content lives here, not in its NodeDef."""
    return bool(self._contents)

  def _put(self, node, content):
    key = str(self._next_key)
    self._next_key += 1
    self._contents[key] = content
    node.attr[MARKER].s = key.encode()

  def _key(self, node):
    return node.attr[MARKER].s.decode() if MARKER in node.attr else None

  def content_size(self, node):
    key = self._key(node)
    if key is not None:
      return memoryview(self._contents[key]).nbytes
    return len(node.attr["value"].tensor.tensor_content)

  def value(self, node, writable=False):
    """The Const's value as a numpy array.

    Read-only unless `writable`; a writable value is a view of the stored
    bytes when they are mutable (a loaded file's), else a copy. Changes take
    effect through set_value (a no-op for such a view).
    """
    key = self._key(node)
    if key is None:
      value = graph_utils.const_value(node)
      return value.copy() if writable else value
    tensor = node.attr["value"].tensor
    dtype = dtypes.as_dtype(tensor.dtype).as_numpy_dtype
    shape = [d.size for d in tensor.tensor_shape.dim]
    value = np.frombuffer(self._contents[key], dtype=dtype).reshape(shape)
    if writable and not value.flags.writeable:
      return value.copy()
    value.flags.writeable = writable
    return value

  def set_value(self, node, array, dtype=None):
    """Replaces the Const's content by `array` (same shape), new dtype if given.

    Large arrays are kept as they are (no copy) when the store detaches.
    """
    tensor = node.attr["value"].tensor
    if dtype is not None:
      tensor.dtype = dtype
      node.attr["dtype"].type = dtype
    tensor.ClearField("float_val")
    array = np.ascontiguousarray(array)
    old = self._key(node)
    if old is not None and np.shares_memory(
        np.frombuffer(self._contents[old], np.uint8), array):
      return  # Changed in place.
    if old is not None:
      del self._contents[old]
      del node.attr[MARKER]
    if (self.detach_min_bytes is not None and
        array.nbytes >= self.detach_min_bytes):
      tensor.ClearField("tensor_content")
      self._put(node, array)
    else:
      tensor.tensor_content = array.tobytes()

  def parse_node(self, graph_def, payload):
    """Adds the serialized NodeDef `payload` to `graph_def`, detaching a large
    Const content as a zero-copy view of `payload`."""
    node = graph_def.node.add()
    if self.detach_min_bytes is None or len(payload) < self.detach_min_bytes:
      node.MergeFromString(payload)
      return node
    split = wire.split_tensor_content(payload)
    if split is None or split[2].nbytes < self.detach_min_bytes:
      node.MergeFromString(payload)
      return node
    node_bytes, tensor_bytes, content = split
    node.MergeFromString(node_bytes)
    node.attr["value"].tensor.MergeFromString(tensor_bytes)
    self._put(node, content)
    return node

  def serialized_parts(self, node):
    """The NodeDef's serialization as a list of bytes-like pieces."""
    key = self._key(node)
    if key is None:
      return [node.SerializeToString()]
    rest = node_def_pb2.NodeDef()
    rest.CopyFrom(node)
    del rest.attr[MARKER]
    tensor = tensor_pb2.TensorProto()
    tensor.CopyFrom(rest.attr["value"].tensor)
    del rest.attr["value"]
    content = memoryview(self._contents[key]).cast("B")
    return wire.node_with_tensor_content(rest.SerializeToString(),
                                         tensor.SerializeToString(), content)

  def attached_copy(self, graph_def):
    """A plain GraphDef with every stored content back in its node."""
    copy = graph_utils.copy_without_nodes(graph_def)
    for node in graph_def.node:
      self.copy_node(node, copy.node.add())
    return copy

  def copy_node(self, node, target):
    """Merges `node` with its stored content (if any) into NodeDef `target`."""
    target.MergeFromString(b"".join(bytes(p)
                                    for p in self.serialized_parts(node)))
    return target

  def prune(self, graph_def):
    """Frees the contents no node of `graph_def` refers to any more."""
    if not self._contents:
      return
    used = {self._key(n) for n in graph_def.node if MARKER in n.attr}
    for key in list(self._contents):
      if key not in used:
        del self._contents[key]
