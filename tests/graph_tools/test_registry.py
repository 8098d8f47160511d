"""The transform pipeline: errors, ignore_errors, output checks."""

import os
import re

import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools import registry


def test_unknown_transform_lists_what_is_available(golden):
  with pytest.raises(UserError) as info:
    registry.transform_graph(golden("remove_nodes").load_input(), ["x"],
                             ["out"], "fold_everything")
  message = str(info.value)
  assert "fold_everything" in message and "\n" not in message
  assert all(name in message for name in registry.TRANSFORM_NAMES)


def test_unknown_argument_lists_known_ones(golden):
  with pytest.raises(UserError, match="num_steps"):
    registry.transform_graph(golden("remove_nodes").load_input(), ["x"],
                             ["out"], "round_weights(steps=3)")


def test_bad_value_is_reported(golden):
  with pytest.raises(UserError, match="integer"):
    registry.transform_graph(golden("remove_nodes").load_input(), ["x"],
                             ["out"], "round_weights(num_steps=many)")


def test_ignore_errors_keeps_the_graph(golden):
  graph = golden("remove_nodes").load_input()
  before = graph.SerializeToString()
  out = registry.transform_graph(graph, ["x"], ["out"],
                                 "remove_nodes(ignore_errors=true)")
  assert out.SerializeToString() == before


def test_unknown_names_are_rejected(golden):
  for inputs, outputs in ((["nope"], ["out"]), (["x"], ["nope:0"])):
    with pytest.raises(UserError, match="nope"):
      registry.transform_graph(golden("remove_nodes").load_input(), inputs,
                               outputs, "remove_device")


def test_folding_never_removes_a_requested_output(golden):
  # The C++ fold_batch_norms would rename the convolution 'conv' away even
  # when it is a requested output; ours leaves that match alone.
  case = golden("fold_batch_norms")
  out = registry.transform_graph(case.load_input(), ["x"], ["out", "conv"],
                                 "fold_constants fold_batch_norms")
  names = {n.name for n in out.node}
  assert "conv" in names and "dw" not in names


def _documented_arguments():
  """{transform: set of `arguments`} from docs/graph_transforms.md's table."""
  path = os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                      "graph_transforms.md")
  with open(path) as f:
    text = f.read()
  table = text[text.index("### Transforms"):]
  documented = {}
  for row in re.findall(r"^\| `(\w+)` \| ([^|]*) \|", table, re.M):
    name, options = row
    documented[name] = set(re.findall(r"`(\w+)`", options))
  return documented


def test_docs_document_exactly_each_transforms_arguments():
  documented = _documented_arguments()
  assert sorted(documented) == sorted(registry.TRANSFORM_NAMES)
  for name, args in registry.TRANSFORM_ARGS.items():
    assert documented[name] == set(args), name
