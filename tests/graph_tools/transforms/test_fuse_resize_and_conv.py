"""fuse_resize_and_conv against the C++ reference and its own rules."""

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  ours, _ = golden("fuse_resize_and_conv").check()
  nodes = graph_utils.node_map(ours)
  fused = nodes["conv3"]
  assert fused.op == "FusedResizeAndPadConv2D"
  assert fused.attr["resize_align_corners"].b
  assert list(fused.input) == ["Relu_1", "resize3/size",
                               "conv3_dummy_paddings", "w3"]
  paddings = nodes["conv3_dummy_paddings"]
  assert paddings.attr["dtype"].type == types_pb2.DT_INT32
  np.testing.assert_array_equal(graph_utils.const_value(paddings),
                                np.zeros((4, 2)))
  # resize1 feeds a MirrorPad, not a Conv2D.
  assert nodes["resize1"].op == "ResizeBilinear"


def test_half_pixel_resize_is_left_alone(golden, helpers):
  # tf.image.resize (TF 2) resizes with half-pixel centres, which the fused
  # kernel cannot; the C++ tool fuses it anyway and changes the output.
  case = golden("fuse_resize_and_conv_half_pixel")
  original = case.load_input()
  before = original.SerializeToString()
  assert case.ours().SerializeToString() == before
  reference = case.reference()
  assert "FusedResizeAndPadConv2D" in helpers.op_counts(reference)
  want = case.outputs_of(original)[0]
  assert np.abs(case.outputs_of(reference)[0] - want).max() > 1e-2


def test_taken_paddings_name_is_an_error(golden):
  graph = golden("fuse_resize_and_conv").load_input()
  graph.node.add(name="conv3_dummy_paddings", op="NoOp")
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], ["out"], "fuse_resize_and_conv")
  message = str(info.value)
  assert message.startswith("fuse_resize_and_conv: ")
  assert "conv3_dummy_paddings" in message and "\n" not in message
  assert graph.SerializeToString() == before


def test_requested_resize_is_kept(golden):
  graph = golden("fuse_resize_and_conv").load_input()
  before = graph.SerializeToString()
  out = registry.transform_graph(graph, ["x"], ["out", "resize3"],
                                 "fuse_resize_and_conv")
  assert out.SerializeToString() == before


@pytest.mark.parametrize("transforms, named", [
    ("fuse_resize_and_conv(align_corners=true)", "'align_corners'"),
    ("fuse_resize_and_conv(ignore_errors=yes)", "'ignore_errors'"),
])
def test_bad_arguments_are_one_line_errors(golden, transforms, named):
  graph = golden("fuse_resize_and_conv").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], ["out"], transforms)
  message = str(info.value)
  assert "fuse_resize_and_conv" in message and named in message
  assert "\n" not in message
  assert graph.SerializeToString() == before
