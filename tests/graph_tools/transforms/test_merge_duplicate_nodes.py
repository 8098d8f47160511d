"""merge_duplicate_nodes against the C++ reference and its own rules."""

import numpy as np
import pytest
from tensorflow.core.framework import graph_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry
from alexnet.graph_tools import tensor_store


def test_matches_reference(golden):
  ours, _ = golden("merge_duplicate_nodes").check()
  # The first of each set stays, in file order; merging repeats upwards.
  names = {n.name: n for n in ours.node}
  assert not {"two_b", "m2", "r2"} & set(names)
  assert list(names["m1"].input) == ["x", "two_a", "^init"]
  assert list(names["sum"].input)[:2] == ["r1", "r1"]


def _graph():
  graph = graph_pb2.GraphDef()
  for name in ("p1", "p2"):
    node = graph.node.add(name=name, op="Placeholder")
    node.attr["dtype"].type = 1
  for name in ("u1", "u2"):
    graph.node.add(name=name, op="Unpack", input=["p1"]).attr["num"].i = 2
  for name in ("rand1", "rand2"):
    node = graph.node.add(name=name, op="RandomUniform", input=["p1"])
    node.attr["dtype"].type = 1
  graph.node.add(name="out", op="AddN",
                 input=["u1:1", "u2:1", "u2", "p2", "rand1", "rand2"])
  return graph


def test_slots_inputs_and_stateful_ops():
  out = registry.transform_graph(_graph(), ["p2"], ["out"],
                                 "merge_duplicate_nodes")
  names = [n.name for n in out.node]
  # p2 is a requested input; RandomUniform is stateful.
  assert names == ["p1", "p2", "u1", "rand1", "rand2", "out"]
  assert list(out.node[-1].input) == ["u1:1", "u1:1", "u1", "p2", "rand1",
                                      "rand2"]


def test_identical_placeholders_merge_unless_requested():
  out = registry.transform_graph(_graph(), [], ["out"],
                                 "merge_duplicate_nodes")
  assert "p2" not in {n.name for n in out.node}


def test_detached_contents_are_compared_by_value(tmp_path):
  graph = graph_pb2.GraphDef()
  for name, value in (("a", 1.0), ("b", 1.0), ("c", 2.0)):
    graph_utils.set_const(graph.node.add(), name,
                          np.full([64], value, np.float32))
  graph.node.add(name="out", op="AddN", input=["a", "b", "c"])
  path = str(tmp_path / "g.pb")
  graph_io.save_graph_def(graph, path)
  tensors = tensor_store.TensorStore(detach_min_bytes=64)
  loaded = graph_io.load_graph_def(path, tensors=tensors)
  assert tensor_store.MARKER in loaded.node[0].attr
  out = registry.transform_graph(loaded, [], ["out"], "merge_duplicate_nodes",
                                 tensors=tensors)
  assert [n.name for n in out.node] == ["a", "c", "out"]
  assert list(out.node[-1].input) == ["a", "a", "c"]


def test_takes_no_arguments(golden):
  graph = golden("merge_duplicate_nodes").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError, match="merge_duplicate_nodes"):
    registry.transform_graph(graph, ["x"], ["out"],
                             "merge_duplicate_nodes(op=Const)")
  assert graph.SerializeToString() == before


def test_merges_read_before_identified_are_found_by_another_pass():
  # A Merge is visited before its NextIteration input (execution order
  # ignores that edge), so m2 equals m1 only once n2 merged into n1.
  graph = graph_pb2.GraphDef()
  graph.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
  graph.node.add(name="c", op="Identity", input=["x"]).attr["T"].type = 1
  for i in ("1", "2"):
    graph.node.add(name="n" + i, op="NextIteration",
                   input=["c"]).attr["T"].type = 1
  for i in ("1", "2"):
    merge = graph.node.add(name="m" + i, op="Merge", input=["x", "n" + i])
    merge.attr["T"].type = 1
    merge.attr["N"].i = 2
  graph.node.add(name="out", op="AddN", input=["m1", "m2"])
  out = registry.transform_graph(graph, ["x"], ["out"],
                                 "merge_duplicate_nodes")
  assert [n.name for n in out.node] == ["x", "c", "n1", "m1", "out"]
  assert list(out.node[-1].input) == ["m1", "m1"]
