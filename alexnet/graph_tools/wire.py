"""Just enough of the protobuf wire format to stream GraphDefs.

Used to read and write a GraphDef one node at a time, and to cut a Const's
`tensor_content` out of (and splice it back into) a serialized NodeDef
without copying it. Field numbers are those of tensorflow/core/framework
graph.proto, node_def.proto, attr_value.proto and tensor.proto.
"""

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
GRAPH_NODE = 1          # GraphDef.node
NODE_ATTR = 5           # NodeDef.attr (map<string, AttrValue>)
MAP_KEY, MAP_VALUE = 1, 2
ATTR_TENSOR = 8         # AttrValue.tensor
TENSOR_CONTENT = 4      # TensorProto.tensor_content


def encode_varint(value):
  out = bytearray()
  while True:
    bits = value & 0x7F
    value >>= 7
    if value:
      out.append(bits | 0x80)
    else:
      out.append(bits)
      return bytes(out)


def tag(field, wire_type):
  return encode_varint(field << 3 | wire_type)


def decode_varint(buf, pos):
  """(value, position after) from `buf` at `pos`; ValueError if cut short."""
  result, shift = 0, 0
  while True:
    if pos >= len(buf) or shift > 63:
      raise ValueError("truncated or bad varint")
    b = buf[pos]
    pos += 1
    result |= (b & 0x7F) << shift
    if not b & 0x80:
      return result, pos
    shift += 7


def fields(buf, start, end):
  """Yields (field, wire type, field start, value start, value end)."""
  pos = start
  while pos < end:
    field_start = pos
    key, pos = decode_varint(buf, pos)
    wire_type = key & 7
    if wire_type == VARINT:
      _, value_end = decode_varint(buf, pos)
    elif wire_type == LENGTH_DELIMITED:
      length, pos = decode_varint(buf, pos)
      value_end = pos + length
    elif wire_type in (FIXED64, FIXED32):
      value_end = pos + (8 if wire_type == FIXED64 else 4)
    else:
      raise ValueError(f"unsupported wire type {wire_type}")
    if value_end > end:
      raise ValueError("field runs past its message")
    yield key >> 3, wire_type, field_start, pos, value_end
    pos = value_end


def _find(buf, start, end, number):
  """(field start, value start, value end) of the first field `number`."""
  for field, wire_type, fstart, vstart, vend in fields(buf, start, end):
    if field == number and wire_type == LENGTH_DELIMITED:
      return fstart, vstart, vend
  return None


def split_tensor_content(payload):
  """Cuts a NodeDef's attr["value"].tensor.tensor_content out of it.

  Returns (NodeDef bytes without the "value" attr, TensorProto bytes without
  its content, content as a memoryview of `payload`), or None when the node
  has no such content.
  """
  view = memoryview(payload)
  for field, wire_type, fstart, vstart, vend in fields(view, 0, len(view)):
    if field != NODE_ATTR or wire_type != LENGTH_DELIMITED:
      continue
    key = _find(view, vstart, vend, MAP_KEY)
    if key is None or bytes(view[key[1]:key[2]]) != b"value":
      continue
    value = _find(view, vstart, vend, MAP_VALUE)
    tensor = value and _find(view, value[1], value[2], ATTR_TENSOR)
    content = tensor and _find(view, tensor[1], tensor[2], TENSOR_CONTENT)
    if not content:
      return None
    node_bytes = bytes(view[:fstart]) + bytes(view[vend:])
    tensor_bytes = (bytes(view[tensor[1]:content[0]]) +
                    bytes(view[content[2]:tensor[2]]))
    return node_bytes, tensor_bytes, view[content[1]:content[2]]
  return None


def node_with_tensor_content(node_bytes, tensor_bytes, content):
  """Pieces that serialize NodeDef `node_bytes` plus attr "value" holding the
  TensorProto `tensor_bytes` with `content` as its tensor_content."""
  content_head = tag(TENSOR_CONTENT, LENGTH_DELIMITED) + encode_varint(
      content.nbytes)
  tensor_size = len(tensor_bytes) + len(content_head) + content.nbytes
  attr_head = tag(ATTR_TENSOR, LENGTH_DELIMITED) + encode_varint(tensor_size)
  attr_size = len(attr_head) + tensor_size
  entry_head = (tag(MAP_KEY, LENGTH_DELIMITED) + encode_varint(5) + b"value" +
                tag(MAP_VALUE, LENGTH_DELIMITED) + encode_varint(attr_size))
  entry_size = len(entry_head) + attr_size
  field_head = tag(NODE_ATTR, LENGTH_DELIMITED) + encode_varint(entry_size)
  return [node_bytes, field_head, entry_head, attr_head, tensor_bytes,
          content_head, content]
