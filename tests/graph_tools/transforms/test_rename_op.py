"""rename_op against the C++ reference, and its errors."""

import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  case = golden("rename_op")
  ours, reference = case.check()
  assert list(ours.node) == list(reference.node)
  relu = next(n for n in ours.node if n.name == "relu")
  assert relu.op == "Relu6" and relu.attr["T"].type


@pytest.mark.parametrize("transforms,expected", [
    ("rename_op(old_op_name=Relu)", "new_op_name"),
    ("rename_op(new_op_name=Relu6)", "old_op_name"),
    ('rename_op(old_op_name=Relu, new_op_name="Relu 6")', "new_op_name"),
    ("rename_op(old_op_name=Relu7, new_op_name=Relu6)", "'Relu7'"),
])
def test_bad_arguments_leave_the_graph(golden, transforms, expected):
  graph = golden("rename_op").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError, match=expected) as info:
    registry.transform_graph(graph, ["x"], ["out"], transforms)
  assert "rename_op" in str(info.value) and "\n" not in str(info.value)
  assert graph.SerializeToString() == before
