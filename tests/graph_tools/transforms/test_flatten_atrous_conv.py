"""flatten_atrous_conv against the C++ reference and its own rules."""

import numpy as np
import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  case = golden("flatten_atrous_conv")
  original = graph_utils.node_map(case.load_input())
  ours, _ = case.check()
  nodes = graph_utils.node_map(ours)
  assert not {"SpaceToBatchND", "BatchToSpaceND"} & {n.op for n in ours.node}
  conv, depthwise = nodes["atrous/BatchToSpaceND"], nodes["dw/BatchToSpaceND"]
  assert (conv.op, depthwise.op) == ("Conv2D", "DepthwiseConv2dNative")
  assert list(conv.input) == ["x", "w"]
  assert conv.attr["padding"].s == depthwise.attr["padding"].s == b"SAME"
  # Rate 2: a 3x3 filter becomes 5x5 with its taps on the even positions.
  weights = graph_utils.const_value(nodes["w"])
  assert weights.shape == (5, 5, 3, 4)
  np.testing.assert_array_equal(weights[::2, ::2],
                                graph_utils.const_value(original["w"]))
  assert not weights[1::2].any() and not weights[:, 1::2].any()
  assert graph_utils.const_value(nodes["dw_w"]).shape == (3, 3, 4, 2)


def test_valid_keeps_valid(golden, helpers):
  # The C++ tool writes SAME for every match, which gives a VALID dilated
  # convolution another output shape; ours keeps the graph's outputs.
  case = golden("flatten_atrous_conv_valid")
  ours, reference = case.ours(), case.reference()
  assert helpers.op_counts(ours) == helpers.op_counts(reference)
  assert len(ours.node) == len(reference.node)
  want = case.outputs_of(case.load_input())[0]
  np.testing.assert_allclose(case.outputs_of(ours)[0], want, atol=1e-5)
  assert case.outputs_of(reference)[0].shape != want.shape
  assert {n.attr["padding"].s for n in ours.node
          if n.op in ("Conv2D", "DepthwiseConv2dNative")} == {b"VALID"}


def _edited(golden, edit):
  graph = golden("flatten_atrous_conv").load_input()
  edit(graph)
  return graph


def _computed_paddings(graph):
  # SpaceToBatchND reads its paddings through an Identity: not a Const.
  s2b = next(n for n in graph.node if n.name == "atrous/SpaceToBatchND")
  reader = graph.node.add(name="paddings_id", op="Identity",
                          input=[s2b.input[2]])
  reader.attr["T"].type = 3  # int32
  s2b.input[2] = "paddings_id"


def _shared_filter(graph):
  reader = graph.node.add(name="other", op="Identity", input=["w"])
  reader.attr["T"].type = 1  # float


@pytest.mark.parametrize("edit, outputs", [
    (_computed_paddings, ("out",)),
    (_shared_filter, ("out", "other")),
    (lambda graph: None, ("out", "atrous")),
])
def test_leaves_what_it_cannot_flatten(golden, edit, outputs):
  graph = _edited(golden, edit)
  out = registry.transform_graph(graph, ["x"], list(outputs),
                                 "flatten_atrous_conv")
  ops = [n.op for n in out.node]
  # The depthwise convolution is flattened, the Conv2D is not.
  assert ops.count("SpaceToBatchND") == ops.count("BatchToSpaceND") == 1
  names = {n.name for n in out.node}
  assert "atrous/SpaceToBatchND" in names and "dw/SpaceToBatchND" not in names


@pytest.mark.parametrize("transforms, named", [
    ("flatten_atrous_conv(rate=2)", "'rate'"),
    ("flatten_atrous_conv(ignore_errors=often)", "'ignore_errors'"),
])
def test_bad_arguments_are_one_line_errors(golden, transforms, named):
  graph = golden("flatten_atrous_conv").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], ["out"], transforms)
  message = str(info.value)
  assert "flatten_atrous_conv" in message and named in message
  assert "\n" not in message
  assert graph.SerializeToString() == before
