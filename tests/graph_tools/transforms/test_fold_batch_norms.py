"""fold_batch_norms against the C++ reference and its own rules."""

from alexnet.graph_tools import registry


def test_matches_reference(golden):
  ours, _ = golden("fold_batch_norms").check(atol=1e-4)
  ops = {n.op for n in ours.node}
  # Conv2D, DepthwiseConv2dNative and MatMul each absorbed their Mul.
  assert "Mul" not in ops
  assert {"Conv2D", "DepthwiseConv2dNative", "MatMul"} <= ops


def test_shared_scale_is_not_folded(golden, helpers):
  case = golden("fold_batch_norms")
  graph = registry.transform_graph(case.load_input(), ["x"], ["out"],
                                   "fold_constants")
  scale = next(n.input[1] for n in graph.node if n.name == "fc_mul")
  graph.node.add(name="also_reads_scale", op="Identity", input=[scale])
  graph.node[-1].attr["T"].type = 1
  out = registry.transform_graph(graph, ["x"], ["out", "also_reads_scale"],
                                 "fold_batch_norms")
  assert "fc_mul" in {n.name for n in out.node if n.op == "Mul"}
