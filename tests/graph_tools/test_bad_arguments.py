"""Bad input for each transform issue 23 added, in one table: a missing
required argument, a malformed value, a node or op name that is not in the
graph, and a requested output the transform would disconnect. Each is a
one-line error naming the transform and the argument, with the graph it
was given unchanged (tools/transform.py then writes nothing: test_tools),
or, for the last, the output kept and still computed.
"""

import collections

import numpy as np
import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry

# golden: the golden case whose input graph is used (inputs x, outputs out).
# missing / malformed / absent: (transform as written, the argument the error
# must name); None where the transform has no such argument (it takes none
# or none is required: the registry's refusal of an unknown argument and of a
# malformed ignore_errors stand in). keep: a node the transform removes or
# renames unless it is a requested output.
_Row = collections.namedtuple("_Row", "golden missing malformed absent keep",
                              defaults=(None, None, None, None))
_NEW = {
    "backport_concatv2": _Row("backport_concatv2"),
    "backport_tensor_array_v3": _Row("backport_tensor_array_v3"),
    "flatten_atrous_conv": _Row("flatten_atrous_conv",
                                keep="atrous/SpaceToBatchND"),
    "fuse_pad_and_conv": _Row("fuse_pad_and_conv", keep="pad2"),
    "fuse_resize_and_conv": _Row("fuse_resize_and_conv", keep="resize3"),
    "fuse_resize_pad_and_conv": _Row("fuse_resize_pad_and_conv",
                                     keep="resize1"),
    "inline_partitionedcall": _Row("inline_partitionedcall",
                                   keep="PartitionedCall"),
    "merge_duplicate_nodes": _Row("merge_duplicate_nodes", keep="m2"),
    "remove_control_dependencies": _Row("remove_control_dependencies"),
    "rename_node": _Row(
        "rename_node",
        missing=("rename_node(old_node_name=relu)", "new_node_name"),
        malformed=('rename_node(old_node_name=relu, new_node_name="a:1")',
                   "new_node_name"),
        absent=("rename_node(old_node_name=nope, new_node_name=act)",
                "old_node_name"),
        keep="relu"),
    "rename_op": _Row(
        "rename_op",
        missing=("rename_op(old_op_name=Relu)", "new_op_name"),
        malformed=('rename_op(old_op_name=Relu, new_op_name="Relu 6")',
                   "new_op_name"),
        absent=("rename_op(old_op_name=Relu7, new_op_name=Relu6)",
                "old_op_name")),
    "set_device": _Row(
        "set_device",
        malformed=('set_device(device="/gpu:zero")', "device")),
    "sparsify_gather": _Row(
        "sparsify_gather",
        malformed=('sparsify_gather(group_init_node="two words")',
                   "group_init_node"),
        absent=("sparsify_gather(input_checkpoint=/nonexistent/ckpt)",
                "input_checkpoint"),
        keep="w1/read"),
}


def test_the_table_has_every_new_transform():
  assert set(_NEW) <= set(registry.TRANSFORM_NAMES)
  assert len(_NEW) == 13


def _refused(golden, name, transforms, argument, outputs=("out",)):
  case = golden(_NEW[name].golden)
  graph = case.load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    registry.transform_graph(graph, ["x"], list(outputs), transforms)
  message = str(info.value)
  assert "\n" not in message
  assert name in message and argument in message, message
  assert graph.SerializeToString() == before


def _cases(kind):
  for name, row in sorted(_NEW.items()):
    given = getattr(row, kind)
    if given is None:
      given = {"missing": (f"{name}(no_such_argument=1)", "no_such_argument"),
               "malformed": (f"{name}(ignore_errors=maybe)",
                             "ignore_errors")}.get(kind)
    if given is not None:
      yield pytest.param(name, *given, id=f"{name}-{kind}")


@pytest.mark.parametrize("name,transforms,argument",
                         list(_cases("missing")) + list(_cases("malformed")) +
                         list(_cases("absent")))
def test_bad_argument_is_one_line_naming_it(golden, name, transforms,
                                            argument):
  _refused(golden, name, transforms, argument)


@pytest.mark.parametrize("name", sorted(_NEW))
def test_output_not_in_the_graph(golden, name):
  graph = golden(_NEW[name].golden).load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError, match="'nope' is not a node") as info:
    registry.transform_graph(graph, ["x"], ["out", "nope"], name)
  assert "\n" not in str(info.value)
  assert graph.SerializeToString() == before


@pytest.mark.parametrize("name", sorted(n for n, row in _NEW.items()
                                        if row.keep))
def test_requested_output_stays_connected(golden, helpers, name):
  row = _NEW[name]
  case = golden(row.golden)
  transforms = case.spec["transforms"]
  outputs = ["out", row.keep]
  try:
    out = registry.transform_graph(case.load_input(), ["x"], outputs,
                                   transforms)
  except UserError as e:
    # The only other answer allowed: a one-line refusal naming the node.
    assert "\n" not in str(e) and row.keep in str(e) and name in str(e)
    return
  # `out` is checked by the golden tests (sparsify_gather's needs its table
  # initialized first); here the requested node must compute what it did.
  feed = helpers.feed_for(case.load_input(), "x")
  fetch = row.keep + ":0"
  np.testing.assert_allclose(helpers.run_graph(out, feed, fetch),
                             helpers.run_graph(case.load_input(), feed, fetch),
                             rtol=1e-5, atol=1e-5)
