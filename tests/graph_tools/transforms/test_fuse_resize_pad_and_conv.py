"""fuse_resize_pad_and_conv against the C++ reference and its own rules."""

import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  ours, _ = golden("fuse_resize_pad_and_conv").check()
  nodes = graph_utils.node_map(ours)
  fused = nodes["conv1"]
  assert fused.op == "FusedResizeAndPadConv2D"
  assert list(fused.input) == ["x", "resize1/size", "pad1/paddings", "w1"]
  assert fused.attr["mode"].s == b"REFLECT"
  assert not fused.attr["resize_align_corners"].b
  assert "resize1" not in nodes and "pad1" not in nodes
  # conv2 has no resize before its pad, conv3 no pad after its resize.
  assert nodes["conv2"].op == nodes["conv3"].op == "Conv2D"


def _with_reader(graph, name):
  reader = graph.node.add(name="other", op="Identity", input=[name])
  reader.attr["T"].type = tf.float32.as_datatype_enum
  return graph


@pytest.mark.parametrize("reader, outputs", [
    ("resize1", ("out", "other")),
    ("pad1", ("out", "other")),
    (None, ("out", "resize1")),
])
def test_shared_or_requested_steps_are_not_fused(golden, reader, outputs):
  graph = golden("fuse_resize_pad_and_conv").load_input()
  if reader:
    _with_reader(graph, reader)
  before = graph.SerializeToString()
  out = registry.transform_graph(graph, ["x"], list(outputs),
                                 "fuse_resize_pad_and_conv")
  assert out.SerializeToString() == before


@pytest.mark.parametrize("transforms, named", [
    ("fuse_resize_pad_and_conv(mode=REFLECT)", "'mode'"),
    ("fuse_resize_pad_and_conv(ignore_errors=2)", "'ignore_errors'"),
])
def test_bad_arguments_are_one_line_errors(golden, transforms, named):
  graph = golden("fuse_resize_pad_and_conv").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], ["out"], transforms)
  message = str(info.value)
  assert "fuse_resize_pad_and_conv" in message and named in message
  assert "\n" not in message
  assert graph.SerializeToString() == before
