"""remove_control_dependencies against the C++ reference."""

import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  case = golden("remove_control_dependencies")
  assert any(i.startswith("^") for n in case.load_input().node
             for i in n.input)
  ours, reference = case.check()
  assert list(ours.node) == list(reference.node)
  assert not any(i.startswith("^") for n in ours.node for i in n.input)
  nodes = {n.name: n for n in ours.node}
  assert list(nodes["sum"].input) == ["r1", "r2"]
  assert "check" in nodes  # Unreached now, but still there.


def test_takes_no_arguments(golden):
  graph = golden("remove_control_dependencies").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError, match="remove_control_dependencies"):
    registry.transform_graph(graph, ["x"], ["out"],
                             "remove_control_dependencies(op=NoOp)")
  assert graph.SerializeToString() == before
