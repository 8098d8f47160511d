"""tools/pipeline.py end to end on a tiny configuration of the synthetic data.

One run is interrupted (SIGKILL during training) and resumed to completion;
the tests then check its artifacts, its report against the artifacts, and
that a third run skips every stage.
"""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from alexnet.graph_tools import graph_io
from alexnet.graph_tools import transform_parser
from alexnet.runner import model_files as lite_evaluate
from tests import builders

pytestmark = pytest.mark.slow

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TINY = ["--tracks_per_class=2", "--frames_per_track=2", "--epochs=1",
        "--latency_runs=2", "--test_tracks_per_class=1",
        f"--fc_units={builders.FC_UNITS}"]
STAGES = ("data", "convert", "tfrecords", "train", "evaluate", "export",
          "freeze", "summarize", "transform", "tflite", "compare", "report")


def pipeline_command(run_dir, *extra):
  return [sys.executable, os.path.join(REPO_ROOT, "tools", "pipeline.py"),
          f"--output_dir={run_dir}", *TINY, *extra]


def run_pipeline(run_dir, *extra):
  proc = subprocess.run(pipeline_command(run_dir, *extra), cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  return proc.stdout


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """(run dir, stdout of the resumed run) after a kill during training."""
  run_dir = str(tmp_path_factory.mktemp("pipeline") / "run")
  proc = subprocess.Popen(pipeline_command(run_dir), cwd=REPO_ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True)
  for line in proc.stdout:
    if "train: started" in line:
      proc.send_signal(signal.SIGKILL)
      break
  proc.wait(timeout=60)
  assert proc.returncode == -signal.SIGKILL
  assert not os.path.exists(os.path.join(run_dir, "stages", "train.json"))
  return run_dir, run_pipeline(run_dir)


def test_interrupted_run_resumes_after_complete_stages(run):
  _, out = run
  for stage in ("data", "convert", "tfrecords"):
    assert re.search(rf"\] {stage}: complete, skipped", out), out
  for stage in STAGES[3:]:
    assert re.search(rf"\] {stage}: done in", out), out


def test_every_artifact_exists(run):
  run_dir, _ = run
  expected = [
      "report.md", "report.html", "pipeline.log",
      "comparison_validation/comparison.md",
      "comparison_validation/comparison.csv",
      "comparison_test/comparison.csv", "evaluation_test/report.json",
      "sample_predictions.png", "data/contact_sheet.png",
      "tfrecords/manifest.json", "model/model_config.json", "model/checkpoint",
      "model/export/inference_graph.pb", "model/export/saved_model",
      "evaluation_validation/report.json",
      "evaluation_validation/confusion_matrix.png",
      "evaluation_validation/loss_per_batch.png",
      "evaluation_validation/loss_per_epoch.png",
      "evaluation_validation/accuracy_per_epoch.png", "graphs/frozen.pb",
      "graphs/summary.txt", "graphs/transformed.pb",
      "tflite/alexnet_float.tflite", "tflite/alexnet_dynamic.tflite",
      "tflite/alexnet_float16.tflite", "tflite/alexnet_int8.tflite",
      "tflite/labels.txt",
  ] + [f"stages/{s}.json" for s in STAGES]
  missing = [p for p in expected if not os.path.exists(os.path.join(run_dir, p))]
  assert not missing
  assert any(f.startswith("events.out.tfevents")
             for f in os.listdir(os.path.join(run_dir, "model")))
  report = open(os.path.join(run_dir, "report.md")).read()
  for figure in ("contact_sheet.png", "confusion_matrix.png",
                 "sample_predictions.png", "loss_per_batch.png"):
    assert figure in report


def test_report_numbers_match_artifacts(run):
  run_dir, _ = run
  report = open(os.path.join(run_dir, "report.md")).read()
  for split in ("validation", "test"):
    evaluation = json.load(open(os.path.join(run_dir, f"evaluation_{split}",
                                             "report.json")))
    row = re.search(rf"^\| {split} \| (\d+) \| \*\*([0-9.]+)%\*\*", report,
                    re.M)
    assert int(row.group(1)) == evaluation["count"]
    assert float(row.group(2)) == pytest.approx(100 * evaluation["top1"],
                                                abs=0.006)
  manifest = json.load(open(os.path.join(run_dir, "tfrecords",
                                         "manifest.json")))
  # The rendered test set: one track of two frames per class.
  assert manifest["splits"]["test"]["count"] == 43 * 2
  test_rows = _comparison(run_dir, "test")
  for name, row in test_rows.items():
    line = next(l for l in report.splitlines() if l.startswith(f"| {name} |"))
    assert f"{100 * float(row['top1']):.2f}%" in line
  rows = _comparison(run_dir, "validation")
  assert set(rows) == {"frozen", "transformed", "tflite_float",
                       "tflite_dynamic", "tflite_float16", "tflite_int8"}
  # Re-evaluate one model from its file and compare with the table.
  result = lite_evaluate.evaluate_tflite(
      os.path.join(run_dir, "tflite", "alexnet_int8.tflite"),
      os.path.join(run_dir, "tfrecords"), "validation", latency_runs=0)
  assert float(rows["tflite_int8"]["top1"]) == pytest.approx(
      result["report"]["top1"])
  # The last table: the variants on the validation split.
  int8_line = [l for l in report.splitlines()
               if l.startswith("| tflite_int8 |")][-1]
  assert f"{result['report']['top1']:.4f}" in int8_line
  size_mb = os.path.getsize(os.path.join(run_dir, "tflite",
                                         "alexnet_int8.tflite")) / 2**20
  assert float(rows["tflite_int8"]["size_mb"]) == pytest.approx(size_mb)


def test_report_accounts_for_each_transform(run):
  run_dir, _ = run
  report = open(os.path.join(run_dir, "report.md")).read()
  section = report.split("## Graph transforms, step by step\n")[1]
  section = section.split("\n## ")[0]
  rows = [line.split(" | ") for line in section.splitlines()
          if line.startswith("| `")]
  settings = json.load(open(os.path.join(run_dir, "stages",
                                         "transform.json")))["settings"]
  transforms = transform_parser.parse_transforms(settings["transforms"])
  # One row per transform of the list, in its order.
  assert [re.match(r"\| `(\w+)", row[0]).group(1) for row in rows] == [
      name for name, _ in transforms]
  frozen, transformed = (
      graph_io.load_graph_def(os.path.join(run_dir, "graphs", name))
      for name in ("frozen.pb", "transformed.pb"))
  assert int(rows[0][1]) == len(frozen.node)
  assert int(rows[-1][2]) == len(transformed.node)
  # Each transform starts from the graph the one before it left.
  assert all(a[2] == b[1] for a, b in zip(rows, rows[1:]))


def _comparison(run_dir, split):
  with open(os.path.join(run_dir, f"comparison_{split}",
                         "comparison.csv")) as f:
    return {r["name"]: r for r in csv.DictReader(f)}


def test_evaluate_tool_on_the_test_folder(run, tool, tmp_path):
  run_dir, _ = run
  out = tmp_path / "eval"
  tool("evaluate", f"--model={run_dir}/tflite/alexnet_int8.tflite",
       f"--test_dir={run_dir}/data/test/GTSRB/Final_Test/Images", "--crop_roi",
       "--latency_runs=0", f"--output_dir={out}")
  report = json.load(open(out / "report.json"))
  assert report["count"] == 43 * 2
  # The TFRecords hold JPEG copies of the same crops: nearly the same reads.
  table = float(_comparison(run_dir, "test")["tflite_int8"]["top1"])
  assert report["top1"] == pytest.approx(table, abs=0.06)


def test_second_run_skips_every_stage(run):
  """Also when the records were written before a setting existed: a
  setting missing from a record takes its default (how that run ran)."""
  run_dir, _ = run
  report = os.path.join(run_dir, "report.md")
  before = os.path.getmtime(report)
  for stage, config, key in (("train", "model", "spatial_transformer"),
                             ("train", "train", "augment_perspective"),
                             ("tflite", "convert", "float_layers")):
    path = os.path.join(run_dir, "stages", f"{stage}.json")
    with open(path) as f:
      record = json.load(f)
    del record["settings"][config][key]
    with open(path, "w") as f:
      json.dump(record, f)
  out = run_pipeline(run_dir)
  assert out.count("complete, skipped") == len(STAGES), out
  assert os.path.getmtime(report) == before


def test_data_that_is_not_gtsrb_is_one_line_error(tmp_path, tool):
  (tmp_path / "notgtsrb").mkdir()
  (tmp_path / "notgtsrb" / "a.txt").write_text("x")
  proc = tool("pipeline", f"--output_dir={tmp_path / 'run'}",
              f"--data={tmp_path / 'notgtsrb'}", check=False)
  assert proc.returncode == 1
  lines = proc.stderr.strip().splitlines()
  assert lines[-1].startswith("error:") and "GTSRB" in lines[-1]
  assert "Traceback" not in proc.stderr


def test_unwritable_output_dir_is_one_line_error(tmp_path, tool):
  blocker = tmp_path / "file"
  blocker.write_text("not a directory")
  proc = tool("pipeline", f"--output_dir={blocker / 'run'}", check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1].startswith("error:")
  assert "Traceback" not in proc.stderr


def test_evaluate_tool_on_tflite_matches_comparison(run, tool, tmp_path):
  run_dir, _ = run
  out = tmp_path / "eval"
  tool("evaluate", f"--model={run_dir}/tflite/alexnet_int8.tflite",
       f"--data_dir={run_dir}/tfrecords",
       f"--reference_model={run_dir}/graphs/frozen.pb", "--latency_runs=2",
       f"--output_dir={out}")
  summary = json.load(open(out / "model_summary.json"))
  report = json.load(open(out / "report.json"))
  rows = _comparison(run_dir, "validation")
  assert report["top1"] == pytest.approx(float(rows["tflite_int8"]["top1"]))
  assert summary["agreement"] == pytest.approx(
      float(rows["tflite_int8"]["agreement"]))
  assert set(summary["latency_ms"]) == {"1", "2"}
  assert (out / "confusion_matrix.png").stat().st_size > 0


def test_report_draws_the_network_and_the_int8_errors_by_layer(run):
  """The network figure has the frozen graph's layers; the int8 section
  lists every row of the variant's layer CSV and names its worst layers."""
  from alexnet.lite import layer_errors  # pylint: disable=g-import-not-at-top
  from alexnet.pipeline import report as pipeline_report  # pylint: disable=g-import-not-at-top
  run_dir, _ = run
  report = open(os.path.join(run_dir, "report.md")).read()
  assert f"]({pipeline_report.NETWORK_PNG})" in report
  layers = pipeline_report.network_layers(
      os.path.join(run_dir, "graphs", "frozen.pb"))
  names = [name for name, _, _ in layers]
  assert names[0] == "input" and names[-1] == "probabilities"
  assert {"conv1", "pool5", "fc8"} <= set(names)
  params = dict((name, count) for name, _, count in layers)
  assert params["pool5"] == 0 and params["fc8"] > 0
  assert dict((n, s) for n, s, _ in layers)["fc8"] == [1, 43]
  section = report[report.index("## int8 error by layer"):]
  with open(os.path.join(run_dir, "tflite", "alexnet_int8_layers.csv")) as f:
    rows = list(csv.DictReader(f))
  assert rows
  table = re.split(r"\n##+ ", section[section.index("### int8\n"):])[0]
  assert len([l for l in table.splitlines()
              if re.match(r"\| \w+ \| [A-Z_0-9]+ \| [0-9.]+ \|", l)]) == len(
                  rows)
  assert "alexnet_int8_layers.png" in table
  worst = max(rows, key=lambda r: float(r[layer_errors.SCORE])
              if r["tensor"].count("/") else -1)
  assert f"Worst layers (rmse/scale): {worst['layer']} " in table


def test_time_to_accuracy_times_the_run_from_its_train_stage(run, tmp_path):
  sys.path.insert(0, os.path.join(REPO_ROOT, "benchmarks"))
  import time_to_accuracy  # pylint: disable=import-outside-toplevel
  run_dir, _ = run
  result = time_to_accuracy.measure(run_dir, [0.0, 1.01])
  with open(os.path.join(run_dir, "stages", "train.json")) as f:
    train_seconds = json.load(f)["seconds"]
  (epoch, seconds, _), = result["epochs"]
  assert epoch == 1 and 0 < seconds <= train_seconds
  assert result["first"] == {0.0: (1, seconds), 1.01: None}
  with open(os.path.join(run_dir, "evaluation_test", "report.json")) as f:
    assert result["test"] == json.load(f)["top1"]
  text = time_to_accuracy.table({"a": result, "b": result}, [0.0, 1.01])
  assert "(epoch 1, 1.00x)" in text and "not reached" in text
  # A run recorded before a setting existed ran with its default: the same.
  older = tmp_path / "older"
  shutil.copytree(os.path.join(run_dir, "stages"), older / "stages")
  shutil.copytree(os.path.join(run_dir, "model"), older / "model")
  shutil.copy(os.path.join(run_dir, "pipeline.log"), older)
  with open(older / "stages" / "train.json") as f:
    record = json.load(f)
  for config in record["settings"].values():
    config.pop("class_balance", None)
  record["settings"]["train"]["epochs"] += 1  # and one that differs
  with open(older / "stages" / "train.json", "w") as f:
    json.dump(record, f)
  text = time_to_accuracy.table(
      {"a": result, "b": time_to_accuracy.measure(str(older), [0.0])}, [0.0])
  assert "class_balance" not in text
  assert f"epochs={record['settings']['train']['epochs']}" in text
  with pytest.raises(time_to_accuracy.UserError, match="pipeline.log"):
    time_to_accuracy.measure(str(tmp_path), [0.99])
