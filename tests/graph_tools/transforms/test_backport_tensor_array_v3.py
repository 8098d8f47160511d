"""backport_tensor_array_v3 against the C++ reference and its own rules."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry

_V3_USERS = ["TensorArrayWriteV3", "TensorArrayReadV3", "TensorArrayGatherV3",
             "TensorArrayScatterV3", "TensorArrayConcatV3",
             "TensorArraySplitV3", "TensorArraySizeV3", "TensorArrayCloseV3"]


def _runnable(graph_def):
  # The V2 ops are removed from GraphDef version 26 on.
  graph_def.versions.producer = 25
  return graph_def


def test_matches_reference_and_runs(golden, helpers):
  case = golden("backport_tensor_array_v3")
  ours, reference = case.ours(), case.reference()
  assert helpers.op_counts(ours) == helpers.op_counts(reference)
  assert len(ours.node) == len(reference.node)
  assert not any(n.op.endswith("V3") for n in ours.node)
  assert not any(i in ("ta:1", "grad:1") for n in ours.node for i in n.input)
  nodes = graph_utils.node_map(ours)
  assert nodes["scatter"].input[3] == "ta/replacement_flow_node"
  assert nodes["grad_write"].input[3] == "grad/replacement_flow_node"
  feed_graph = case.load_input()
  want = case.outputs_of(feed_graph)[0]
  np.testing.assert_array_equal(case.outputs_of(_runnable(ours))[0], want)


def test_reference_keeps_a_v3_only_attribute(golden, capfd):
  # Why ours drops identical_element_shapes: TensorArrayV2 has no such
  # attribute; TF 2.21 runs the reference's graph only by ignoring it.
  case = golden("backport_tensor_array_v3")
  reference = _runnable(case.reference())
  assert "identical_element_shapes" in graph_utils.node_map(
      reference)["ta"].attr
  want = case.outputs_of(case.load_input())[0]
  capfd.readouterr()
  np.testing.assert_array_equal(case.outputs_of(reference)[0], want)
  assert "mentions attribute identical_element_shapes" in (
      capfd.readouterr().err)
  assert "identical_element_shapes" not in graph_utils.node_map(
      case.ours())["ta"].attr


def test_v2_ops_need_an_old_producer(golden):
  case = golden("backport_tensor_array_v3")
  with pytest.raises(Exception, match="version 26"):
    case.outputs_of(case.ours())


@pytest.mark.parametrize("op", _V3_USERS)
def test_every_user_op_becomes_v2(op):
  graph = graph_pb2.GraphDef()
  graph.node.add(name="v3_node", op=op)
  out = registry.transform_graph(graph, [], [], "backport_tensor_array_v3")
  assert [n.op for n in out.node] == [op[:-1] + "2"]


def _tensor_array(read_flow):
  graph = tf.Graph()
  with graph.as_default():
    handle, flow = tf.raw_ops.TensorArrayV3(size=2, dtype=tf.float32,
                                            name="ta")
    tf.identity(handle, name="handle_out")
    if read_flow:
      tf.identity(flow, name="flow_out")
  return graph.as_graph_def()


def test_unread_flow_gets_no_replacement():
  out = registry.transform_graph(_tensor_array(False), [], ["handle_out"],
                                 "backport_tensor_array_v3")
  assert sorted(n.op for n in out.node) == ["Const", "Identity",
                                            "TensorArrayV2"]


def test_taken_replacement_name_is_an_error():
  graph = _tensor_array(True)
  graph.node.add(name="ta/replacement_flow_node", op="NoOp")
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, [], ["flow_out"],
                             "backport_tensor_array_v3")
  message = str(info.value)
  assert message.startswith("backport_tensor_array_v3: ")
  assert "ta/replacement_flow_node" in message and "\n" not in message
  assert graph.SerializeToString() == before


@pytest.mark.parametrize("transforms, named", [
    ("backport_tensor_array_v3(version=2)", "'version'"),
    ("backport_tensor_array_v3(ignore_errors=perhaps)", "'ignore_errors'"),
])
def test_bad_arguments_are_one_line_errors(golden, transforms, named):
  graph = golden("backport_tensor_array_v3").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], ["out"], transforms)
  message = str(info.value)
  assert "backport_tensor_array_v3" in message and named in message
  assert "\n" not in message
  assert graph.SerializeToString() == before
