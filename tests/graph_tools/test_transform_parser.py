"""The --transforms syntax, parsed like the C++ ParseTransformParameters."""

import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools.transform_parser import parse_transforms


def test_original_project_list():
  text = ('strip_unused_nodes(type=float, shape="1,227,227,3") '
          "remove_nodes(op=Identity, op=CheckNumerics) "
          "fold_constants(ignore_errors=true) round_weights(num_steps=256) "
          "obfuscate_names sort_by_execution_order fold_old_batch_norms "
          "fold_batch_norms")
  parsed = parse_transforms(text)
  assert [name for name, _ in parsed] == [
      "strip_unused_nodes", "remove_nodes", "fold_constants", "round_weights",
      "obfuscate_names", "sort_by_execution_order", "fold_old_batch_norms",
      "fold_batch_norms"]
  assert parsed[0][1] == {"type": ["float"], "shape": ["1,227,227,3"]}
  assert parsed[1][1] == {"op": ["Identity", "CheckNumerics"]}
  assert parsed[4][1] == {}


def test_newlines_empty_parens_and_paths():
  parsed = parse_transforms("\n  a()\n\tb(file=/tmp/x-1.txt)\n c  ")
  assert parsed == [("a", {}), ("b", {"file": ["/tmp/x-1.txt"]}), ("c", {})]


def test_quoted_values_keep_commas_spaces_and_escaped_quotes():
  parsed = parse_transforms(r'x(msg="a, b \" c", n=1)')
  assert parsed == [("x", {"msg": [r'a, b \" c'], "n": ["1"]})]


@pytest.mark.parametrize("text, what", [
    ("a(b)", "'='"),
    ("a(b=)", "value"),
    ("a(b=1 )", "argument name"),
    ('a(b="1)', "closing quote"),
    ("(a)", "transform name"),
    ("a(b=1", "argument name"),
])
def test_errors_say_what_was_expected(text, what):
  with pytest.raises(UserError, match=what):
    parse_transforms(text)
