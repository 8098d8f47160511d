"""add_default_attributes against the C++ reference."""

from tensorflow.core.framework import graph_pb2

from alexnet.graph_tools import registry


def test_matches_reference(golden):
  golden("add_default_attributes").check()


def test_fills_missing_defaults_only():
  graph = graph_pb2.GraphDef()
  graph.node.add(name="a", op="Placeholder").attr["dtype"].type = 1
  mm = graph.node.add(name="mm", op="MatMul", input=["a", "a"])
  mm.attr["T"].type = 1
  mm.attr["transpose_a"].b = True
  graph.node.add(name="custom", op="NotARealOp")
  out = registry.transform_graph(graph, [], ["mm"], "add_default_attributes")
  mm = next(n for n in out.node if n.name == "mm")
  assert mm.attr["transpose_a"].b is True
  assert "transpose_b" in mm.attr and mm.attr["transpose_b"].b is False
  assert len(next(n for n in out.node if n.name == "custom").attr) == 0
