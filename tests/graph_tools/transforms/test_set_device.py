"""set_device against the C++ reference, and its errors."""

import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  case = golden("set_device")
  ours, reference = case.check()
  assert list(ours.node) == list(reference.node)
  assert {n.device for n in ours.node} == {"/device:CPU:0"}


def test_if_default_keeps_placed_nodes(golden):
  # Not run: a local session has no /job:worker.
  case = golden("set_device_if_default")
  ours, reference = case.ours(), case.reference()
  assert list(ours.node) == list(reference.node)
  placed = {n.name: n.device for n in case.load_input().node if n.device}
  assert placed
  for node in ours.node:
    assert node.device == placed.get(node.name,
                                     "/job:worker/device:CPU:1")


def test_no_device_clears_them(golden):
  out = registry.transform_graph(golden("set_device").load_input(), ["x"],
                                 ["out"], "set_device")
  assert not any(n.device for n in out.node)


@pytest.mark.parametrize("transforms,expected", [
    ("set_device(device=nonsense)", "'device'"),
    ('set_device(device="/gpu:zero")', "'device'"),
    ("set_device(device=a, device=b)", "'device'"),
    ("set_device(if_default=maybe)", "'if_default'"),
])
def test_bad_arguments_leave_the_graph(golden, transforms, expected):
  graph = golden("set_device").load_input()
  before = graph.SerializeToString()
  with pytest.raises(UserError, match=expected) as info:
    registry.transform_graph(graph, ["x"], ["out"], transforms)
  assert "set_device" in str(info.value) and "\n" not in str(info.value)
  assert graph.SerializeToString() == before
