"""fold_old_batch_norms against the C++ reference and its own rules.

The 2.12 reference folds FusedBatchNorm but not FusedBatchNormV3 (which
tf.nn.fused_batch_norm makes today); ours folds both, so each V3 the
reference leaves becomes BiasAdd + 1 offset Const instead of 4 stat Consts.
"""


def _with_v3_folded(reference_ops):
  ops = dict(reference_ops)
  v3 = ops.pop("FusedBatchNormV3", 0)
  ops["BiasAdd"] = ops.get("BiasAdd", 0) + v3
  ops["Const"] -= 3 * v3
  return ops


def test_matches_reference_plus_v3(golden, helpers):
  case = golden("fold_old_batch_norms")
  expected = _with_v3_folded(helpers.op_counts(case.reference()))
  ours, _ = case.check(expected_ops=expected, atol=1e-4)
  assert not {"FusedBatchNorm", "FusedBatchNormV3"} & {n.op for n in ours.node}
  assert {"conv_bn_offset", "conv2_bn_offset"} <= {n.name for n in ours.node}


def test_original_list_on_fused_graph(golden, helpers):
  case = golden("original_list_bn_fused")
  expected = _with_v3_folded(helpers.op_counts(case.reference()))
  case.check(expected_ops=expected, atol=1e-4)
