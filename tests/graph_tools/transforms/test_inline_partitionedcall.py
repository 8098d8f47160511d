"""inline_partitionedcall against the C++ reference and TF 2.21's own calls."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry

_CALLS = ("PartitionedCall", "StatefulPartitionedCall")


def test_matches_reference(golden):
  case = golden("inline_partitionedcall")
  assert any(n.op == "PartitionedCall" for n in case.load_input().node)
  ours, reference = case.check()

  def wiring(graph):
    # The C++ tool spells output 0 'node:0'; we write 'node'.
    return [(n.name, [i[:-2] if i.endswith(":0") else i for i in n.input])
            for n in graph.node]

  assert wiring(ours) == wiring(reference)
  assert not any(n.op in _CALLS for n in ours.node)


def _traced(body, outputs=("out",)):
  """A graph calling tf.function `body` on x; (GraphDef, x's feed)."""
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
    body(x)
  feed = {"x:0": np.random.RandomState(0).uniform(-1, 1, [3, 4]).astype(
      np.float32)}
  return graph.as_graph_def(), feed


def _multi_output(x):
  @tf.function
  def top(a):
    values, indices = tf.math.top_k(a, k=2)
    return values * 2.0, tf.cast(indices, tf.float32)

  values, indices = top(x)
  tf.identity(values + indices, name="out")


def test_outputs_of_ops_with_several_output_arguments(golden, helpers):
  graph, feed = _traced(_multi_output)
  want = helpers.run_graph(graph, feed, "out:0")
  out = registry.transform_graph(graph, ["x"], ["out"],
                                 "inline_partitionedcall")
  nodes = {n.name: n for n in out.node}
  # 'TopKV2:indices:0' is output 1 (the C++ tool reads output 0 for it).
  assert nodes["PartitionedCall/Cast"].input[0] == "PartitionedCall/TopKV2:1"
  np.testing.assert_allclose(helpers.run_graph(out, feed, "out:0"), want)


def _stateful(x):
  @tf.function
  def checked(a):
    tf.debugging.assert_less(a, 2.0)
    return a + 1.0

  tf.identity(checked(x), name="out")


def test_stateful_calls_and_requested_calls(helpers):
  graph, feed = _traced(_stateful)
  call = next(n for n in graph.node if n.op in _CALLS)
  assert call.op == "StatefulPartitionedCall"
  want = helpers.run_graph(graph, feed, "out:0")
  out = registry.transform_graph(graph, ["x"], ["out", call.name],
                                 "inline_partitionedcall")
  kept = next(n for n in out.node if n.name == call.name)
  # Requested, the call stays as an IdentityN of the inlined results.
  assert kept.op == "IdentityN"
  assert not any(n.op in _CALLS for n in out.node)
  np.testing.assert_allclose(helpers.run_graph(out, feed, "out:0"), want)
  np.testing.assert_allclose(helpers.run_graph(out, feed, call.name + ":0"),
                             want)


def test_control_inputs_into_and_out_of_calls(golden, helpers):
  graph = golden("inline_partitionedcall").load_input()
  init = graph.node.add(name="init", op="NoOp")
  calls = [n for n in graph.node if n.op == "PartitionedCall"]
  calls[0].input.append("^" + init.name)
  out_node = next(n for n in graph.node if n.name == "out")
  out_node.input.append("^" + calls[1].name)
  out = registry.transform_graph(graph, ["x"], ["out"],
                                 "inline_partitionedcall")
  nodes = {n.name: n for n in out.node}
  assert "^init" in nodes[calls[0].name + "/mul/y"].input
  assert "^init" not in nodes[calls[0].name + "/Relu"].input
  assert nodes[calls[1].name].op == "IdentityN"
  assert "^" + calls[1].name in nodes["out"].input
  feeds = helpers.feed_for(graph, "x")
  np.testing.assert_allclose(helpers.run_graph(out, feeds, "out:0"),
                             helpers.run_graph(graph, feeds, "out:0"),
                             rtol=1e-6)


def _broken(graph, how):
  call = next(n for n in graph.node if n.op == "PartitionedCall")
  if how == "library":
    del graph.library.function[:]
  elif how == "inputs":
    call.input.append("w")
  elif how == "collision":
    graph.node.add(name=call.name + "/MatMul", op="NoOp")
  elif how == "attribute":
    del call.attr["f"]
  return graph


@pytest.mark.parametrize("how,expected", [
    ("library", "not in the graph's library"),
    ("inputs", "does not match the signature"),
    ("collision", "second node named"),
    ("attribute", "no function attribute 'f'"),
])
def test_bad_graphs_are_left_as_they_are(golden, how, expected):
  graph = _broken(golden("inline_partitionedcall").load_input(), how)
  before = graph.SerializeToString()
  with pytest.raises(UserError, match=expected) as info:
    registry.transform_graph(graph, ["x"], ["out"], "inline_partitionedcall")
  assert "inline_partitionedcall" in str(info.value)
  assert "\n" not in str(info.value)
  assert graph.SerializeToString() == before
