"""rename_attribute against the C++ reference."""

import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference(golden):
  case = golden("rename_attribute")
  ours, reference = case.ours(), case.reference()
  assert list(ours.node) == list(reference.node)
  bias = next(n for n in ours.node if n.op == "BiasAdd")
  assert bias.attr["layout"].s == b"NHWC" and "data_format" not in bias.attr
  conv = next(n for n in ours.node if n.op == "Conv2D")
  assert "data_format" in conv.attr


def test_both_names_are_required(golden):
  with pytest.raises(UserError, match="new_attribute_name"):
    registry.transform_graph(golden("rename_attribute").load_input(), ["x"],
                             ["out"], "rename_attribute(old_attribute_name=T)")
