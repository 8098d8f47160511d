"""strip_unused_nodes against the C++ reference and its own rules."""

import pytest
from tensorflow.core.framework import types_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference_and_drops_unused_branch(golden):
  ours, _ = golden("strip_unused_nodes").check()
  assert "unused_sum" not in {n.name for n in ours.node}


def test_deeper_input_becomes_placeholder_with_given_shape(golden):
  ours, _ = golden("strip_unused_nodes_deeper_input").check()
  scaled = next(n for n in ours.node if n.name == "scaled")
  assert scaled.op == "Placeholder"
  assert [d.size for d in scaled.attr["shape"].shape.dim] == [2, 8, 8, 3]
  assert scaled.attr["dtype"].type == types_pb2.DT_FLOAT
  assert "x" not in {n.name for n in ours.node}


def test_per_name_type_needs_a_value_for_every_name(golden):
  case = golden("strip_unused_nodes")
  with pytest.raises(UserError, match="type_for_name"):
    registry.transform_graph(case.load_input(), ["scaled"], ["out"],
                             "strip_unused_nodes(name=scaled, name=x, "
                             "type_for_name=int32)")


def test_per_name_type_applies(golden):
  case = golden("strip_unused_nodes")
  out = registry.transform_graph(
      case.load_input(), ["scaled"], ["out"],
      'strip_unused_nodes(name=scaled, type_for_name=half, '
      'shape_for_name="1,8,8,3")')
  scaled = next(n for n in out.node if n.name == "scaled")
  assert scaled.attr["dtype"].type == types_pb2.DT_HALF
