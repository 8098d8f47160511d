"""sparsify_gather against the C++ reference, TF 2 graphs and checkpoints."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry


def _run(graph_def, feeds, fetch="out:0", init=None, checkpoint=None):
  """Runs `fetch` after the op `init` (or restoring `checkpoint` with the
  graph's saver)."""
  graph = tf.Graph()
  with graph.as_default():
    tf.graph_util.import_graph_def(graph_def, name="")
  with tf.compat.v1.Session(graph=graph) as session:
    if checkpoint:
      session.run("save/restore_all", {"save/Const:0": checkpoint})
    if init:
      session.run(init)
    return session.run(fetch, feeds)


def _feed(case, helpers):
  return helpers.feed_for(case.load_input(), "x")


@pytest.mark.parametrize("name,init", [("sparsify_gather", "group_deps"),
                                       ("sparsify_gather_init", "init")])
def test_matches_reference(golden, helpers, name, init):
  case = golden(name)
  ours, reference = case.ours(), case.reference()
  assert helpers.op_counts(ours) == helpers.op_counts(reference)
  assert len(ours.node) == len(reference.node)
  assert not {"w1", "w1/read", "w2", "w2/read", "g2/axis"} & {
      n.name for n in ours.node}
  nodes = {n.name: n for n in ours.node}
  assert set(nodes[init].input) == {"^w1/InitializeTable",
                                    "^w2/InitializeTable"}
  feeds = _feed(case, helpers)
  got = _run(ours, feeds, init=init)
  np.testing.assert_allclose(got, _run(reference, feeds, init=init))
  np.testing.assert_allclose(got, helpers.run_graph(case.load_input(), feeds,
                                                    "out:0"), rtol=1e-6)


def test_only_nonzero_weights_are_stored(golden):
  ours = golden("sparsify_gather").ours()
  weights = graph_utils.const_value(next(
      n for n in golden("sparsify_gather").load_input().node
      if n.name == "w1")).reshape(-1)
  nodes = {n.name: n for n in ours.node}
  ids = graph_utils.const_value(nodes["w1/indices"])
  np.testing.assert_array_equal(ids, np.flatnonzero(weights))
  np.testing.assert_array_equal(graph_utils.const_value(nodes["w1/values"]),
                                weights[ids])


def _frozen_tf2(shared=False):
  """GatherV2 straight from a Const with int32 ids, as frozen TF 2 graphs
  have it; `shared`: a second Gather of the same weights."""
  rng = np.random.RandomState(2)
  weights = rng.normal(0, 1, [6, 1]).astype(np.float32)
  weights[[1, 4]] = 0
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
    ids = tf.cast(tf.floor(tf.abs(x) * 6.0), tf.int32, name="ids")
    w = tf.constant(weights, name="w")
    total = tf.gather(w, ids, name="g")
    if shared:
      total += tf.gather(w, ids[:, :1], name="g_again")
    tf.identity(total, name="out")
  feeds = {"x:0": rng.uniform(-1, 1, [5, 2]).astype(np.float32)}
  return graph.as_graph_def(), feeds


def test_frozen_tf2_gathers_and_int32_ids(helpers):
  graph, feeds = _frozen_tf2(shared=True)
  want = helpers.run_graph(graph, feeds, "out:0")
  out = registry.transform_graph(graph, ["x"], ["out"], "sparsify_gather")
  ops = helpers.op_counts(out)
  assert ops["HashTable"] == 1 and ops["LookupTableFind"] == 2
  assert "w" not in {n.name for n in out.node}
  nodes = {n.name: n for n in out.node}
  assert nodes["g/LookupTableFind"].input[1] == "g/Cast"
  np.testing.assert_allclose(_run(out, feeds, init="group_deps"), want)


def test_truncated_checkpoint_is_one_line_naming_it(tmp_path):
  graph, _, path = _variable_graph(tmp_path)
  data = tf.io.gfile.glob(path + ".data-*")[0]
  with open(data, "r+b") as f:
    f.truncate(4)
  before = graph.SerializeToString()
  with pytest.raises(UserError, match="corrupt or truncated") as info:
    registry.transform_graph(graph, ["x"], ["out"],
                             f'sparsify_gather(input_checkpoint="{path}")')
  message = str(info.value)
  assert message.startswith("sparsify_gather: 'input_checkpoint'")
  assert path in message and "\n" not in message
  assert graph.SerializeToString() == before


def test_requested_weights_stay(golden, helpers):
  case = golden("sparsify_gather")
  out = registry.transform_graph(case.load_input(), ["x"], ["out", "w1/read"],
                                 "sparsify_gather")
  names = {n.name for n in out.node}
  assert {"w1", "w1/read"} <= names and "w2" not in names
  feeds = _feed(case, helpers)
  np.testing.assert_allclose(
      _run(out, feeds, init="group_deps"),
      helpers.run_graph(case.load_input(), feeds, "out:0"), rtol=1e-6)


def _variable_graph(tmp_path):
  """A tf.compat.v1 VariableV2 graph with a saver, and its checkpoint."""
  rng = np.random.RandomState(3)
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
    ids = tf.cast(tf.floor(tf.abs(x) * 8.0), tf.int64, name="ids")
    w = tf.compat.v1.get_variable("w", [8, 1], use_resource=False,
                                  initializer=tf.compat.v1.zeros_initializer())
    tf.identity(tf.compat.v1.gather(w, ids), name="out")
    saver = tf.compat.v1.train.Saver()
    values = rng.normal(0, 1, [8, 1]).astype(np.float32)
    values[[0, 3, 5]] = 0
    with tf.compat.v1.Session() as session:
      session.run(w.assign(values))
      path = saver.save(session, str(tmp_path / "model.ckpt"))
  feeds = {"x:0": rng.uniform(-1, 1, [4, 2]).astype(np.float32)}
  return graph.as_graph_def(), feeds, path


def test_variables_are_read_from_the_checkpoint(tmp_path, helpers):
  graph, feeds, path = _variable_graph(tmp_path)
  want = _run(graph, feeds, checkpoint=path)
  out = registry.transform_graph(graph, ["x"], ["out"],
                                 f'sparsify_gather(input_checkpoint="{path}")')
  names = {n.name for n in out.node}
  # The saver still saves w, so the variable stays; its read goes.
  assert "w/read" not in names and "w" in names
  assert helpers.op_counts(out)["LookupTableFind"] == 1
  np.testing.assert_allclose(_run(out, feeds, init="group_deps"), want)


def test_partitions_and_their_cleanup_as_in_the_cpp_test(tmp_path):
  # Two partitions of 'w' restored by one RestoreV2, initializers, and a
  # ConcatV2 reading one of them, as in the C++ tool's own test.
  full = np.array([[0.2], [1e-6], [1.2], [0.0], [0.5], [0.001]], np.float32)
  path = str(tmp_path / "parts")
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    session.run(tf.raw_ops.SaveV2(prefix=path, tensor_names=["w"],
                                  shape_and_slices=[""], tensors=[full]))
  graph = graph_pb2.GraphDef()

  def add(name, op, inputs=(), value=None, dtype=None):
    node = graph.node.add(name=name, op=op, input=list(inputs))
    if value is not None:
      graph_utils.set_const(node, name, value, dtype)
    node.attr["dtype"].type = node.attr["dtype"].type or 1
    return node

  add("ids", "Const", value=np.array([0, 1, 2], np.int64))
  add("save/Const", "Const", value=np.array(b"x"))
  add("save/RestoreV2/tensor_names", "Const", value=np.array([b"w", b"w"]))
  add("save/RestoreV2/shape_and_slices", "Const",
      value=np.array([b"6 1 0,3:0,1", b"6 1 3,3:0,1"]))
  add("save/RestoreV2", "RestoreV2", ["save/Const",
                                      "save/RestoreV2/tensor_names",
                                      "save/RestoreV2/shape_and_slices"])
  for part in (0, 1):
    name = f"w/part_{part}"
    add(name, "VariableV2")
    add(name + "/Initializer/zeros", "Const",
        value=np.zeros([3, 1], np.float32))
    add(name + "/Assign", "Assign", [name, name + "/Initializer/zeros"])
    add(f"save/Assign_{part}", "Assign", [name, f"save/RestoreV2:{part}"])
    add(name + "/read", "Identity", [name])
    add(f"gather_{part}", "Gather", [name + "/read", "ids"])
  add("group_deps", "NoOp", ["^w/part_0/Assign", "^w/part_1/Assign"])
  add("concat/axis", "Const", value=np.int32(0))
  add("concat/input", "Const", value=np.zeros([3, 1], np.float32))
  concat = add("concat", "ConcatV2", ["w/part_1/read", "concat/input",
                                      "concat/axis"])
  concat.attr["N"].i = 2
  concat.attr["Tidx"].type = 3
  out = registry.transform_graph(
      graph, ["ids"], ["gather_0", "gather_1"],
      f"sparsify_gather(input_checkpoint={path})")
  nodes = {n.name: n for n in out.node}
  for gone in ("w/part_0", "w/part_1/read", "w/part_1/Assign",
               "w/part_1/Initializer/zeros", "save/Assign_1", "concat/axis"):
    assert gone not in nodes
  assert nodes["save/RestoreV2"].op == "RestoreV2"
  assert nodes["concat"].op == "Identity" and "N" not in nodes["concat"].attr
  assert list(nodes["concat"].input) == ["concat/input"]
  assert list(nodes["group_deps"].input) == ["^w/part_0/InitializeTable",
                                             "^w/part_1/InitializeTable"]
  # Each partition holds its own slice; 1e-6 and 0.0 are dropped.
  for part, ids, values in ((0, [0, 2], [0.2, 1.2]), (1, [1, 2],
                                                      [0.5, 0.001])):
    np.testing.assert_array_equal(
        graph_utils.const_value(nodes[f"w/part_{part}/indices"]), ids)
    np.testing.assert_allclose(
        graph_utils.const_value(nodes[f"w/part_{part}/values"]), values)


def _edited(graph, how):
  nodes = {n.name: n for n in graph.node}
  if how == "axis":
    graph_utils.set_const(nodes["g2/axis"], "g2/axis", np.int32(1))
  elif how == "shape":
    graph_utils.set_const(nodes["w1"], "w1", np.ones([5, 2], np.float32))
  elif how == "variable":
    nodes["w1"].op = "VariableV2"
  return graph


@pytest.mark.parametrize("how,transforms,expected", [
    ("axis", "sparsify_gather", "axis 1"),
    ("shape", "sparsify_gather", r"shape \[5, 2\]"),
    ("variable", "sparsify_gather", "input_checkpoint"),
    (None, "sparsify_gather(input_checkpoint=/nonexistent/ckpt)",
     "'input_checkpoint'"),
    (None, "sparsify_gather(group_init_node=ids)", "'group_init_node'"),
    (None, 'sparsify_gather(group_init_node="two words")',
     "'group_init_node'"),
    (None, "sparsify_gather(group_init_node=a, group_init_node=b)",
     "'group_init_node'"),
])
def test_bad_input_leaves_the_graph(golden, how, transforms, expected):
  graph = _edited(golden("sparsify_gather").load_input(), how)
  before = graph.SerializeToString()
  with pytest.raises(UserError, match=expected) as info:
    registry.transform_graph(graph, ["x"], ["out"], transforms)
  assert "sparsify_gather" in str(info.value)
  assert "\n" not in str(info.value)
  assert graph.SerializeToString() == before
