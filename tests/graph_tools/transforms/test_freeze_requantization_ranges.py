"""freeze_requantization_ranges against the C++ reference, and bad logs."""

import numpy as np
import pytest

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry


def _frozen(graph_def):
  return {n.name: float(graph_utils.const_value(n)) for n in graph_def.node
          if n.name.endswith(("/frozen_min", "/frozen_max"))}


@pytest.mark.parametrize("name", ["freeze_requantization_ranges",
                                  "freeze_requantization_ranges_percentiles"])
def test_matches_reference(golden, name):
  ours, reference = golden(name).check(atol=0)
  frozen = _frozen(ours)
  assert len(frozen) == 12 and frozen == _frozen(reference)
  assert not any(n.op == "RequantizationRange" for n in ours.node)


def _quantized(golden):
  case = golden("quantize_nodes")
  return case.ours()


def _freeze(graph_def, path):
  return registry.transform_graph(
      graph_def, ["x"], ["out"],
      f'freeze_requantization_ranges(min_max_log_file="{path}")')


def test_missing_log_is_one_line(golden, tmp_path):
  path = tmp_path / "nope.log"
  with pytest.raises(UserError) as info:
    _freeze(_quantized(golden), path)
  message = str(info.value)
  assert str(path) in message and "does not exist" in message
  assert "\n" not in message


def test_log_without_ranges_is_one_line(golden, tmp_path):
  path = tmp_path / "empty.log"
  path.write_text("I0000 something else\n;x__print__;other:[1][2]\n")
  graph = _quantized(golden)
  before = graph.SerializeToString()
  with pytest.raises(UserError) as info:
    _freeze(graph, path)
  message = str(info.value)
  assert str(path) in message and "holds no __requant_min_max: ranges" in (
      message)
  assert "\n" not in message and graph.SerializeToString() == before


def test_log_of_another_graph_is_one_line(golden, tmp_path):
  path = tmp_path / "other.log"
  path.write_text(";elsewhere/requant_range__print__;__requant_min_max:"
                  "[-1][1]\n")
  with pytest.raises(UserError, match="not in the graph .elsewhere/"):
    _freeze(_quantized(golden), path)


def test_log_naming_another_op_is_one_line(golden, tmp_path):
  path = tmp_path / "relu.log"
  path.write_text(";relu__print__;__requant_min_max:[-1][1]\n")
  with pytest.raises(UserError, match="'relu' is a Dequantize, not a "
                                      "RequantizationRange"):
    _freeze(_quantized(golden), path)


def test_file_name_is_required(golden):
  with pytest.raises(UserError, match="min_max_log_file is required"):
    registry.transform_graph(_quantized(golden), ["x"], ["out"],
                             "freeze_requantization_ranges")


def test_percentiles_drop_the_extremes(golden, tmp_path):
  # 20 runs: min_percentile=10 skips the 2 lowest minima, max_percentile=10
  # the 2 highest maxima (index round(20 * 0.9) = 18).
  lows, highs = -np.arange(1, 21), np.arange(1, 21)
  path = tmp_path / "runs.log"
  path.write_text("".join(
      f";conv/eightbit/requant_range__print__;__requant_min_max:[{lo}][{hi}]"
      "\n" for lo, hi in zip(lows, highs)))
  out = registry.transform_graph(
      _quantized(golden), ["x"], ["out"],
      f'freeze_requantization_ranges(min_max_log_file="{path}", '
      "min_percentile=10, max_percentile=10)")
  frozen = _frozen(out)
  assert frozen == {"conv/eightbit/requant_range/frozen_min": -18.0,
                    "conv/eightbit/requant_range/frozen_max": 19.0}
