"""round_weights against the C++ reference and its stated bound."""

import numpy as np

from alexnet.graph_tools import graph_utils


def _consts(graph_def):
  return {n.name: graph_utils.const_value(n) for n in graph_def.node
          if n.op == "Const"}


def test_matches_reference_values(golden):
  case = golden("round_weights")
  ours, reference = case.check()
  ours_values, ref_values = _consts(ours), _consts(reference)
  for name, value in ref_values.items():
    np.testing.assert_allclose(ours_values[name], value, rtol=0, atol=1e-6)


def test_levels_and_error_bound(golden):
  case = golden("round_weights_16")
  ours, _ = case.check()
  before = _consts(case.load_input())
  after = _consts(ours)
  for name, value in before.items():
    if value.dtype != np.float32 or value.size < 16:
      np.testing.assert_array_equal(after[name], value)
      continue
    # At most num_steps + 1 levels, each within half a bucket; the C++
    # range reaches up to FLT_MIN for all-negative tensors.
    low, high = value.min(), max(value.max(), np.finfo(np.float32).tiny)
    if low == high:
      continue
    assert len(np.unique(after[name])) <= 17
    assert np.abs(after[name] - value).max() <= (high - low) / 32 * 1.001
