"""remove_attribute against the C++ reference."""

import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_matches_reference(golden, helpers):
  case = golden("remove_attribute")
  ours, reference = case.ours(), case.reference()
  assert list(ours.node) == list(reference.node)
  relu = next(n for n in ours.node if n.op == "Relu")
  assert "T" not in relu.attr
  assert all("T" in n.attr for n in ours.node if n.op == "BiasAdd")


def test_attribute_name_is_required(golden):
  with pytest.raises(UserError, match="attribute_name"):
    registry.transform_graph(golden("remove_attribute").load_input(), ["x"],
                             ["out"], "remove_attribute(op_name=Relu)")
