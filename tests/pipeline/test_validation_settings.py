"""The pipeline's validation settings: one fold of a K-fold split
(--folds/--fold), or none (--validation_fraction=0: the final model on every
track, evaluated and compared on the test split alone)."""

import json
import os

import pytest

from alexnet.core.errors import UserError
from alexnet.pipeline import stages
from tests.pipeline.test_pipeline import run_pipeline


def test_folds_reach_the_tfrecords_stage(tmp_path):
  plain = dict((n, s) for n, s, _ in stages.Pipeline(str(tmp_path)).stages())
  fold = dict((n, s) for n, s, _ in stages.Pipeline(
      str(tmp_path), overrides={"folds": 4, "fold": 3}).stages())
  assert "folds" not in plain["tfrecords"]
  assert (fold["tfrecords"]["folds"], fold["tfrecords"]["fold"]) == (4, 3)
  with pytest.raises(UserError, match=r"^--fold=4 is out of range: with "
                     r"--folds=4"):
    stages.Pipeline(str(tmp_path), overrides={"folds": 4, "fold": 4})
  assert not os.listdir(tmp_path)


@pytest.mark.slow
def test_a_run_without_validation_uses_the_test_split(tmp_path):
  run_dir = str(tmp_path / "run")
  run_pipeline(run_dir, "--validation_fraction=0")
  with open(os.path.join(run_dir, "tfrecords", "manifest.json")) as f:
    assert sorted(json.load(f)["splits"]) == ["test", "train"]
  with open(os.path.join(run_dir, "model", "best", "best.json")) as f:
    best = json.load(f)
  assert best["val_top1"] is None and best["epoch"] == 1
  assert os.path.exists(os.path.join(run_dir, "evaluation_test",
                                     "report.json"))
  assert not os.path.exists(os.path.join(run_dir, "evaluation_validation"))
  with open(os.path.join(run_dir, "stages", "compare.json")) as f:
    compare = json.load(f)["result"]
  assert list(compare) == ["test"]
  # Latency is timed on the first split there is: here, test.
  assert compare["test"]["rows"][0]["median_ms_1t"] is not None
  with open(os.path.join(run_dir, "report.md")) as f:
    report = f.read()
  assert "## Model variants (test split)" in report
  assert "Confusion matrix (test)" in report
