"""sort_by_execution_order: inputs before users, and the reference's order."""

import pytest
from tensorflow.core.framework import graph_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry


def test_matches_reference_order(golden):
  ours, reference = golden("sort_by_execution_order").check()
  seen = set()
  for node in ours.node:
    assert all(graph_utils.node_name(i) in seen for i in node.input)
    seen.add(node.name)
  assert [n.name for n in ours.node] == [n.name for n in reference.node]


def test_cycle_is_an_error():
  graph = graph_pb2.GraphDef()
  graph.node.add(name="a", op="Identity", input=["b"])
  graph.node.add(name="b", op="Identity", input=["a"])
  with pytest.raises(UserError, match="cycle"):
    registry.transform_graph(graph, [], ["a"], "sort_by_execution_order")
