"""insert_logging against the C++ reference: Prints that pass values on."""

import numpy as np
import pytest

from alexnet.graph_tools import registry


def _prints(graph_def):
  return {n.name: n for n in graph_def.node if n.op == "Print"}


@pytest.mark.parametrize("name", ["insert_logging", "insert_logging_prefix",
                                  "insert_logging_requantization_range"])
def test_matches_reference(golden, name):
  ours, reference = golden(name).check(atol=0)
  ours_prints, reference_prints = _prints(ours), _prints(reference)
  assert set(ours_prints) == set(reference_prints)
  for key, node in ours_prints.items():
    want = reference_prints[key]
    assert list(node.input) == list(want.input)
    for attr in ("message", "first_n", "summarize", "T", "U"):
      assert node.attr[attr] == want.attr[attr], (key, attr)


def test_prints_each_run_to_stderr(golden, helpers, capfd):
  case = golden("insert_logging")
  feeds = helpers.feed_for(case.load_input(), "x")
  got = helpers.run_graph(case.ours(), feeds, "out:0")
  np.testing.assert_array_equal(
      got, helpers.run_graph(case.load_input(), feeds, "out:0"))
  lines = [l for l in capfd.readouterr().err.splitlines() if "value:" in l]
  assert sorted(l.split(";")[1] for l in lines) == ["MatMul", "MatMul", "Relu"]


def test_only_read_nodes_are_logged(golden):
  # 'out' is read by nothing, so even with no filter it gets no Print.
  out = registry.transform_graph(golden("insert_logging").load_input(),
                                 ["x"], ["out"], "insert_logging")
  prints = _prints(out)
  assert "out__print__" not in prints and "relu__print__" in prints
