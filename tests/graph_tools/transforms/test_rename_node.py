"""rename_node against the C++ reference, and its errors."""

import pytest
from tensorflow.core.framework import graph_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  case = golden("rename_node")
  ours, reference = case.check()
  assert list(ours.node) == list(reference.node)
  names = {n.name: n for n in ours.node}
  assert "relu" not in names and names["act"].op == "Relu"
  assert names["flat"].input[0] == "act"


def test_every_slot_and_control_input_follows():
  graph = graph_pb2.GraphDef()
  graph.node.add(name="x", op="Placeholder")
  graph.node.add(name="split", op="Unpack", input=["x"])
  graph.node.add(name="out", op="AddN",
                 input=["split", "split:0", "split:1", "^split"])
  out = registry.transform_graph(
      graph, ["x"], ["out"],
      "rename_node(old_node_name=split, new_node_name=parts)")
  assert list(out.node[2].input) == ["parts", "parts:0", "parts:1", "^parts"]
  assert out.node[1].name == "parts"


@pytest.mark.parametrize("transforms,expected", [
    ("rename_node(old_node_name=relu)", "new_node_name"),
    ("rename_node(new_node_name=act)", "old_node_name"),
    ('rename_node(old_node_name=relu, new_node_name="act:1")',
     "new_node_name"),
    ("rename_node(old_node_name=nope, new_node_name=act)", "'nope'"),
    ("rename_node(old_node_name=relu, new_node_name=flat)", "'flat'"),
    # Renaming a requested output would disconnect it.
    ("rename_node(old_node_name=out, new_node_name=final)", "'out'"),
])
def test_bad_arguments_leave_the_graph(golden, transforms, expected):
  graph = golden("rename_node").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError, match=expected) as info:
    registry.transform_graph(graph, ["x"], ["out"], transforms)
  assert "rename_node" in str(info.value) and "\n" not in str(info.value)
  assert graph.SerializeToString() == before
