"""remove_nodes against the C++ reference and its own rules."""

import pytest
from tensorflow.core.framework import graph_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  ours, _ = golden("remove_nodes").check()
  assert not {"Identity", "CheckNumerics"} & {n.op for n in ours.node}


def _chain():
  graph = graph_pb2.GraphDef()
  graph.node.add(name="a", op="Placeholder")
  graph.node.add(name="c", op="NoOp")
  graph.node.add(name="id1", op="Identity", input=["a", "^c"])
  graph.node.add(name="id2", op="Identity", input=["id1:0"])
  graph.node.add(name="out", op="Neg", input=["id2", "^id1"])
  return graph


def test_chains_and_control_inputs_are_rewired():
  out = registry.transform_graph(_chain(), [], ["out"],
                                 "remove_nodes(op=Identity)")
  node = next(n for n in out.node if n.name == "out")
  assert list(node.input) == ["a", "^a"]
  assert [n.name for n in out.node] == ["a", "c", "out"]


def test_outputs_are_kept():
  out = registry.transform_graph(_chain(), [], ["id2"],
                                 "remove_nodes(op=Identity)")
  assert "id2" in {n.name for n in out.node}


def test_op_is_required():
  with pytest.raises(UserError, match="at least one 'op'"):
    registry.transform_graph(_chain(), [], ["out"], "remove_nodes()")
