"""Colocation hints (`_class`, loc:@NAME) after transforms that rename, merge
or remove nodes: TF 2.21 refuses a graph whose hint names no node. The C++
tool (TF 2.12) leaves them stale in every case of
test_hints_name_nodes_of_the_result but the original list, and TF 2.21
refuses its results (see docs/graph_transforms.md)."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet.graph_tools import graph_io
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry


def _graph():
  """x -> out, with hints on a weight (r1, r2), on a node the outputs do not
  need (aux, which y is colocated with) and on an Identity (r1, for z)."""
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
    w1 = tf.constant([1., 2.], name="w1")
    w2 = tf.constant([1., 2.], name="w2")
    aux = tf.constant(3., name="aux")
    with graph.colocate_with(w1):
      r1 = tf.identity(w1, name="r1")
    with graph.colocate_with(w2):
      r2 = tf.identity(w2, name="r2")
    with graph.colocate_with(aux):
      y = tf.multiply(x, 2., name="y")
    z = tf.multiply(x, r1, name="z")
    tf.add_n([z, r2 * y], name="out")
  graph_def = graph.as_graph_def()
  # TensorFlow would write r1's own hint (w1); an older graph may name r1.
  z = graph_utils.node_map(graph_def)["z"]
  z.attr[graph_utils.COLOCATION_ATTR].list.s.append(b"loc:@r1")
  return graph_def


def _hints(graph_def):
  """node name -> the names its hints give."""
  return {node.name: [h.decode()[len("loc:@"):] for h in
                      node.attr[graph_utils.COLOCATION_ATTR].list.s]
          for node in graph_def.node
          if graph_utils.COLOCATION_ATTR in node.attr}


def _run(helpers, graph_def):
  return helpers.run_graph(graph_def, {"x:0": np.array([3., 5.], np.float32)},
                           "out:0")


def test_the_graph_has_the_hints():
  hints = _hints(_graph())
  assert hints["r1"] == ["w1"] and hints["y"] == ["aux"]
  assert hints["z"] == ["r1"]


@pytest.mark.parametrize("transforms", [
    "rename_node(old_node_name=w1, new_node_name=weights)",
    "rename_node(old_node_name=r1, new_node_name=read)",
    "obfuscate_names",
    "merge_duplicate_nodes",
    'strip_unused_nodes(type=float, shape="2")',
    "fold_constants",
    "remove_nodes(op=Identity)",
    # Its Placeholder is kept as it is, whatever the shape argument says.
    registry.ORIGINAL_TRANSFORMS,
])
def test_hints_name_nodes_of_the_result(helpers, transforms):
  want = _run(helpers, _graph())
  out = registry.transform_graph(_graph(), ["x"], ["out"], transforms)
  names = {node.name for node in out.node}
  for node, targets in _hints(out).items():
    assert set(targets) <= names, (node, targets)
  graph_io.import_graph(out, f"the result of {transforms}")
  np.testing.assert_allclose(_run(helpers, out), want, rtol=1e-6)


def test_renamed_nodes_keep_their_hints():
  out = registry.transform_graph(
      _graph(), ["x"], ["out"],
      "rename_node(old_node_name=w1, new_node_name=weights)")
  assert _hints(out)["r1"] == ["weights"]
  out = registry.transform_graph(_graph(), ["x"], ["out"], "obfuscate_names")
  nodes = graph_utils.node_map(out)
  for node, targets in _hints(out).items():
    if nodes[node].op == "Identity":
      # Each Identity is colocated with the (renamed) weight it reads.
      assert targets == [graph_utils.node_name(nodes[node].input[0])]


def test_merging_makes_the_reads_duplicates(helpers):
  # Once w2 is merged into w1, r2's hint names w1 too, so r2 and r1 merge.
  out = registry.transform_graph(_graph(), ["x"], ["out"],
                                 "merge_duplicate_nodes")
  assert helpers.op_counts(out)["Identity"] == 1
  assert "w2" not in {node.name for node in out.node}


def test_hint_of_a_removed_node_is_dropped():
  out = registry.transform_graph(_graph(), ["x"], ["out"],
                                 'strip_unused_nodes(type=float, shape="2")')
  hints = _hints(out)
  # aux is gone; y keeps no hint and loses the attribute.
  assert "aux" not in {node.name for node in out.node}
  assert "y" not in hints and "r1" in hints
