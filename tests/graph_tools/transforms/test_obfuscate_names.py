"""obfuscate_names against the C++ reference: same names, inputs/outputs kept."""

from alexnet.graph_tools import registry


def test_matches_reference_names(golden):
  ours, reference = golden("obfuscate_names").check()
  assert [n.name for n in ours.node] == [n.name for n in reference.node]
  assert [list(n.input) for n in ours.node] == [
      list(n.input) for n in reference.node]
  assert {"x", "out"} <= {n.name for n in ours.node}


def test_tensor_style_names_are_kept_too(golden):
  case = golden("obfuscate_names")
  out = registry.transform_graph(case.load_input(), ["x:0"], ["out:0"],
                                 "obfuscate_names")
  assert {"x", "out"} <= {n.name for n in out.node}
