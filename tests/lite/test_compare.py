"""Evaluation of .tflite and frozen graphs, and the comparison table."""

import csv
import os

import pytest

from alexnet.core.errors import UserError
from alexnet.runner import comparison
from alexnet.runner import model_files

LATENCY_RUNS = 5


def test_evaluate_tflite_report_agreement_latency(tiny, converted):
  reference = model_files.evaluate_frozen_graph(
      tiny["graph"], tiny["data_dir"], "validation", latency_runs=2,
      threads=(2,))
  result = model_files.evaluate_tflite(
      converted["int8_uint8_io"]["path"], tiny["data_dir"], "validation",
      reference_probabilities=reference["probabilities"],
      latency_runs=LATENCY_RUNS, threads=(1, 2))
  assert result["report"]["count"] == reference["report"]["count"] > 0
  assert (result["labels"] == reference["labels"]).all()
  assert len(result["labels"]) == result["report"]["count"]
  assert result["report"]["top1"] == pytest.approx(
      (result["probabilities"].argmax(axis=1) == result["labels"]).mean())
  assert result["agreement"] >= 0.95
  assert sorted(reference["latency"]) == [2] and reference["agreement"] is None
  assert sorted(result["latency"]) == [1, 2]
  for stats in result["latency"].values():
    assert stats["runs"] == LATENCY_RUNS
    assert 0 < stats["median_ms"] <= stats["p90_ms"]
  assert 0 < result["gzip_bytes"] < result["size_bytes"]
  assert result["input"]["dtype"] == "uint8"


def test_parse_models():
  assert comparison.parse_models("a/f.pb, int8=m.tflite") == [
      ("f", "a/f.pb"), ("int8", "m.tflite")]
  with pytest.raises(UserError, match="repeated names"):
    comparison.parse_models("x/m.tflite,y/m.tflite")


@pytest.mark.slow
def test_compare_tool_writes_markdown_and_csv(tool, tiny, converted, tmp_path):
  # The dynamic-range model stands in for float here: a quarter the bytes
  # to read and gzip.
  models = (f"dynamic={converted['dynamic']['path']},"
            f"int8={converted['int8_int8_io']['path']}")
  out = tmp_path / "table"
  tool("compare_models", f"--data_dir={tiny['data_dir']}",
       "--split=validation", f"--models={models}", f"--output_dir={out}",
       "--latency_runs=3")
  with open(out / "comparison.csv") as f:
    rows = list(csv.DictReader(f))
  assert [r["name"] for r in rows] == ["dynamic", "int8"]
  assert rows[0]["agreement"] == "" and float(rows[0]["size_vs_ref"]) == 1.0
  for row in rows[1:]:
    assert float(row["agreement"]) >= 0.95
    assert float(row["median_ms_2t"]) <= float(row["p90_ms_2t"])
  size = os.path.getsize(converted["int8_int8_io"]["path"])
  assert float(rows[1]["size_vs_ref"]) == pytest.approx(
      size / os.path.getsize(converted["dynamic"]["path"]))
  assert float(rows[1]["size_mb"]) == pytest.approx(size / 2**20)
  # Its LRNs were rewritten; only the input standardization is float.
  assert "LOCAL_RESPONSE_NORMALIZATION" not in rows[1]["float_fallback_ops"]
  assert "DIV" in rows[1]["float_fallback_ops"].split()
  table = (out / "comparison.md").read_text().splitlines()
  assert table[2].startswith("| " + " | ".join(comparison.COLUMNS))
  assert len(table) == 3 + 1 + len(rows)


def test_compare_rejects_a_non_tflite(tiny, tmp_path):
  junk = tmp_path / "junk.tflite"
  junk.write_text("not a model")
  with pytest.raises(UserError, match="no 'TFL3'"):
    comparison.compare_models([("junk", str(junk))], tiny["data_dir"])
  with pytest.raises(UserError, match="does not exist"):
    comparison.compare_models([("gone", str(tmp_path / "gone.pb"))],
                           tiny["data_dir"])
  # Checked before the first model runs (it would fail on the data_dir).
  with pytest.raises(UserError, match="gone.tflite does not exist"):
    comparison.compare_models(
        [("frozen", tiny["graph"]), ("gone", str(tmp_path / "gone.tflite"))],
        str(tmp_path / "no_data"))
