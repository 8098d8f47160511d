"""tools/cross_validate.py's library: a tiny 2-fold run pooled, resumed,
and refused on bad input; and the final model trained on every track."""

import json
import os
import shutil

import numpy as np
import pytest

from alexnet.core.config import (ConvertConfig, ModelConfig, PipelineConfig,
                                 TrainConfig)
from alexnet.core.errors import UserError
from alexnet.datasets import jpeg_folders
from alexnet.datasets import tfrecord_reader
from alexnet.estimator import checkpoints
from alexnet.estimator import train_log
from alexnet.evaluation import reports
from alexnet.pipeline import cross_validation, presets
from tests import builders
from tests.datasets.test_tfrecord import _records

# 3 classes x 4 tracks x 3 frames; 2 folds of 2 tracks per class, 2 steps
# of 9 images an epoch.
TINY = builders.COLORS


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
  root = tmp_path_factory.mktemp("cv_data")
  images, _ = builders.write_training_layout(str(root / "raw"), TINY)
  out = str(root / "converted")
  jpeg_folders.convert(images, out, num_workers=1)
  return out


@pytest.fixture(scope="module")
def cv_run(converted, tmp_path_factory):
  out = str(tmp_path_factory.mktemp("cv") / "run")
  report = cross_validation.cross_validate(converted, out, TINY.model,
                                           TINY.train, folds=2, seed=3,
                                           num_shards=1, log=lambda _: None)
  return out, report


@pytest.mark.slow
def test_every_training_image_is_predicted_once(cv_run):
  out, report = cv_run
  images = len(TINY.classes) * TINY.tracks * TINY.frames
  assert report["count"] == images
  assert sum(f["count"] for f in report["per_fold"]) == images
  assert report["tracks"] == len(TINY.classes) * TINY.tracks
  assert [f["tracks"] for f in report["per_fold"]] == [6, 6]
  for c in report["per_class"]:
    if c["id"] in TINY.classes:
      assert (c["count"], c["tracks"]) == (TINY.tracks * TINY.frames,
                                           TINY.tracks)
      low, high = c["interval"]
      assert low <= c["accuracy"] <= high
    else:
      assert (c["count"], c["interval"]) == (0, None)
  low, high = report["top1_interval"]
  assert low <= report["top1"] <= high and high - low > 0
  # No image is validated twice: the folds' validation files are disjoint.
  files = [
      {r[0] for r in _records(os.path.join(out, f"fold_{f}", "tfrecords"),
                              "validation")}
      for f in range(2)]
  assert not files[0] & files[1]
  assert len(files[0] | files[1]) == images


@pytest.mark.slow
def test_the_curve_pools_each_epoch_and_ends_at_the_pooled_figure(cv_run):
  out, report = cv_run
  assert [r["epoch"] for r in report["curve"]] == [1, 2]
  # The pooled figure is each fold's last epoch, as its log validated it.
  assert report["curve"][-1]["top1"] == pytest.approx(report["top1"])
  assert report["best_epoch"] in (1, 2)
  counts = [f["count"] for f in report["per_fold"]]
  _, epochs = train_log.read(train_log.log_path(
      os.path.join(out, "fold_0", "model")))
  _, epochs_1 = train_log.read(train_log.log_path(
      os.path.join(out, "fold_1", "model")))
  expected = (counts[0] * epochs[0]["val_top1"] +
              counts[1] * epochs_1[0]["val_top1"]) / sum(counts)
  assert report["curve"][0]["top1"] == pytest.approx(expected)
  with open(os.path.join(out, cross_validation.REPORT_JSON)) as f:
    assert json.load(f)["top1"] == report["top1"]
  with open(os.path.join(out, cross_validation.REPORT_MD)) as f:
    md = f.read()
  assert f"Pooled top-1 **{report['top1']:.2%}**" in md
  assert "| 2 | " in md  # the curve's second epoch


@pytest.mark.slow
def test_a_rerun_redoes_only_the_unfinished_fold(cv_run, converted):
  out, report = cv_run
  done = [os.path.join(out, f"fold_{f}", cross_validation.PREDICTIONS)
          for f in range(2)]
  kept = os.stat(done[0]).st_mtime_ns
  os.remove(done[1])
  again = cross_validation.cross_validate(converted, out, TINY.model,
                                          TINY.train, folds=2, seed=3,
                                          num_shards=1, log=lambda _: None)
  assert os.stat(done[0]).st_mtime_ns == kept
  assert os.path.exists(done[1])
  # Fold 1's training had finished: its latest checkpoint predicts alike.
  assert again["top1"] == report["top1"]
  with pytest.raises(UserError, match=r"other settings \(seed\)"):
    cross_validation.cross_validate(converted, out, TINY.model, TINY.train,
                                    folds=2, seed=4, num_shards=1)


def _copy_fold(run, fold, to):
  """What another machine's finished fold_I sends back: no checkpoints, no
  shards."""
  for part in (cross_validation.PREDICTIONS,
               os.path.join("model", train_log.LOG_NAME),
               os.path.join("tfrecords", "manifest.json")):
    source = os.path.join(cross_validation.fold_dir(run, fold), part)
    target = os.path.join(cross_validation.fold_dir(to, fold), part)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(source, target)


@pytest.mark.slow
def test_folds_run_apart_pool_as_one_run(cv_run, converted, tmp_path):
  run, whole = cv_run
  out = str(tmp_path / "pooled")

  def pool():
    return cross_validation.cross_validate(
        converted, out, TINY.model, TINY.train, folds=2, seed=3,
        num_shards=1, log=lambda _: None, run_folds=[])

  with pytest.raises(UserError, match=r"^no fold of .*pooled is done yet"):
    pool()
  _copy_fold(run, 1, out)
  partial = pool()
  assert partial["partial"] and partial["per_fold"] == whole["per_fold"][1:]
  assert partial["count"] == whole["per_fold"][1]["count"]
  with open(os.path.join(out, cross_validation.REPORT_MD)) as f:
    assert f.readline() == ("# Cross-validation by track (1 of 2 folds: "
                            "partial, the others not yet run)\n")
  _copy_fold(run, 0, out)
  pooled = pool()
  assert not pooled["partial"]
  for key in ("top1", "top1_interval", "per_fold", "per_class", "curve"):
    assert pooled[key] == whole[key], key


@pytest.mark.slow
def test_a_run_started_before_a_setting_existed_resumes(cv_run, converted,
                                                       tmp_path):
  """A setting added after a run was started (its cross_validation.json
  lacks the key) takes its default, which is how that run trained: the run
  still resumes and pools; a setting that differs is still refused."""
  run, whole = cv_run
  out = str(tmp_path / "older")
  _copy_fold(run, 0, out)
  _copy_fold(run, 1, out)
  path = os.path.join(out, cross_validation.SETTINGS_JSON)
  with open(os.path.join(run, cross_validation.SETTINGS_JSON)) as f:
    saved = json.load(f)
  del saved["model"]["spatial_transformer"]
  del saved["train"]["augment_perspective"]
  with open(path, "w") as f:
    json.dump(saved, f)

  def pool(model=TINY.model):
    return cross_validation.cross_validate(
        converted, out, model, TINY.train, folds=2, seed=3, num_shards=1,
        log=lambda _: None, run_folds=[])

  assert pool()["top1"] == whole["top1"]
  with pytest.raises(UserError, match=r"other settings \(model\)"):
    pool(TINY.model.replace(spatial_transformer=True))


@pytest.mark.slow
def test_a_run_is_compared_with_a_baseline_image_by_image(cv_run, converted,
                                                          tmp_path):
  run, whole = cv_run
  out = str(tmp_path / "option")
  for fold in range(2):
    _copy_fold(run, fold, out)

  def pool(baseline):
    return cross_validation.cross_validate(
        converted, out, TINY.model, TINY.train, folds=2, seed=3,
        num_shards=1, log=lambda _: None, run_folds=[], baseline_dir=baseline)

  # A baseline beside this run that has not finished a fold yet: the
  # run's report is still written, and says so.
  waiting = tmp_path / "waiting"
  waiting.mkdir()
  shutil.copyfile(os.path.join(run, cross_validation.SETTINGS_JSON),
                  waiting / cross_validation.SETTINGS_JSON)
  assert pool(str(waiting))["against"] == {"baseline_dir": str(waiting),
                                           "folds": []}
  with open(os.path.join(out, cross_validation.REPORT_MD)) as f:
    assert "None of the folds done here is done there yet" in f.read()
  same = pool(run)["against"]
  assert (same["difference"], same["interval"]) == (0, [0, 0])
  assert (same["folds"], same["count"]) == ([0, 1], whole["count"])
  assert same["between_folds"] == [0, 0]
  # Fold 1 of this run reads every image wrong: the difference is what the
  # baseline had right there, over all images.
  path = os.path.join(cross_validation.fold_dir(out, 1),
                      cross_validation.PREDICTIONS)
  with np.load(path) as saved:
    fold = {k: saved[k] for k in saved.files}
  right_there = int((fold["probabilities"].argmax(1) == fold["labels"]).sum())
  assert right_there > 0
  wrong = (fold["labels"] + 1) % fold["probabilities"].shape[1]
  fold["probabilities"] = np.eye(fold["probabilities"].shape[1])[wrong]
  np.savez(path, **fold)
  worse = pool(run)["against"]
  assert (worse["better"], worse["worse"]) == (0, right_there)
  assert worse["difference"] == pytest.approx(-right_there / whole["count"])
  low, high = worse["interval"]
  assert low < worse["difference"] < high < 0.5
  fold_1 = fold["labels"].size
  assert [(f["fold"], f["count"]) for f in worse["per_fold"]] == [
      (0, whole["count"] - fold_1), (1, fold_1)]
  assert [f["difference"] for f in worse["per_fold"]] == pytest.approx(
      [0, -right_there / fold_1])
  # Two folds that disagree this much: retraining's spread dwarfs the
  # interval by track.
  between_low, between_high = worse["between_folds"]
  assert between_low < -right_there / fold_1 / 2 < between_high
  assert between_high - between_low > high - low
  assert worse["top1"] == pytest.approx(
      whole["top1"] - right_there / whole["count"])
  with open(os.path.join(out, cross_validation.REPORT_MD)) as f:
    text = f.read()
  assert f"## Against {run}" in text
  assert (f"By fold: fold 0 +0.00, fold 1 {-100 * right_there / fold_1:+.2f}. "
          "Between folds") in text
  # A baseline of the same settings whose fold holds other tracks.
  moved = str(tmp_path / "moved")
  _copy_fold(run, 0, moved)
  shutil.copyfile(os.path.join(run, cross_validation.SETTINGS_JSON),
                  os.path.join(moved, cross_validation.SETTINGS_JSON))
  path = os.path.join(cross_validation.fold_dir(moved, 0),
                      cross_validation.PREDICTIONS)
  with np.load(path) as saved:
    fold = {k: saved[k] for k in saved.files}
  np.savez(path, **{**fold, "tracks": fold["tracks"] + 1000})
  with pytest.raises(UserError, match=r"^fold 0 of .*moved holds other "
                     r"images than fold 0 of .*option: compare runs dealt "
                     r"from the same converted training set$"):
    pool(moved)


def _column(run, to, folds, change=None):
  """A copy of run's finished folds as another cross-validation; change:
  {fold: f}, that fold's probabilities replaced by f(probabilities)."""
  os.makedirs(to, exist_ok=True)
  shutil.copyfile(os.path.join(run, cross_validation.SETTINGS_JSON),
                  os.path.join(to, cross_validation.SETTINGS_JSON))
  for fold in folds:
    _copy_fold(run, fold, to)
    if change and fold in change:
      path = os.path.join(cross_validation.fold_dir(to, fold),
                          cross_validation.PREDICTIONS)
      with np.load(path) as saved:
        fold_predictions = {k: saved[k] for k in saved.files}
      fold_predictions["probabilities"] = change[fold](
          fold_predictions["probabilities"])
      np.savez(path, **fold_predictions)
  return to


@pytest.mark.slow
def test_a_committee_of_runs_pools_the_mean_of_their_probabilities(
    cv_run, converted, tmp_path):
  run, whole = cv_run
  # Column b is run's fold 0, and on fold 1 no opinion at all (uniform):
  # the committee's fold 1 decides as run does, while b alone reads class 0
  # for every image there.
  b = _column(run, str(tmp_path / "b"), [0, 1],
              {1: lambda p: np.full_like(p, 1 / p.shape[1])})
  fold_0, fold_1 = (cross_validation._fold_predictions(run, f)
                    for f in (0, 1))
  errors = [int((f["probabilities"].argmax(1) != f["labels"]).sum())
            for f in (fold_0, fold_1)]
  b_errors = errors[0] + int((fold_1["labels"] != 0).sum())
  assert b_errors > sum(errors)
  out = str(tmp_path / "committee")
  report = cross_validation.committee([run, b], out, command="cv")
  assert report["top1"] == whole["top1"] and not report["partial"]
  assert report["curve"] == [] and report["best_epoch"] is None
  assert [(c["dir"], c["errors"]) for c in report["columns"]] == [
      (run, sum(errors)), (b, b_errors)]
  with open(os.path.join(out, cross_validation.REPORT_MD)) as f:
    text = f.read()
  assert "## The committee's columns" in text and f"| {b} |" in text
  # The committee is a run like any other: a baseline for a trained run.
  option = _column(run, str(tmp_path / "option"), [0, 1])
  against = cross_validation.cross_validate(
      converted, option, TINY.model, TINY.train, folds=2, seed=3,
      num_shards=1, log=lambda _: None, run_folds=[],
      baseline_dir=out)["against"]
  assert (against["difference"], against["better"], against["worse"]) == (
      0, 0, 0)
  # Only the folds every column has done; another committee in the same
  # folder, or a column dealt otherwise, is refused.
  half = _column(run, str(tmp_path / "half"), [1])
  partial = cross_validation.committee([run, half],
                                       str(tmp_path / "partial"))
  assert partial["partial"] and [f["fold"] for f in partial["per_fold"]] == [1]
  with pytest.raises(UserError, match=r"other settings \(committee\)"):
    cross_validation.committee([run, half], out)
  with open(os.path.join(half, cross_validation.SETTINGS_JSON)) as f:
    settings = json.load(f)
  with open(os.path.join(half, cross_validation.SETTINGS_JSON), "w") as f:
    json.dump({**settings, "seed": 4}, f)
  with pytest.raises(UserError, match=r"deals its folds otherwise \(seed\)"):
    cross_validation.committee([run, half], str(tmp_path / "other"))
  with pytest.raises(UserError, match=r"^a committee needs two runs or more"):
    cross_validation.committee([run], str(tmp_path / "one"))
  with pytest.raises(UserError, match=r"names a run twice"):
    cross_validation.committee([run, b, run + "/"], str(tmp_path / "twice"))
  with pytest.raises(UserError, match=r"^.*option.fold_0 holds no "
                     r"cross-validation \(cross_validation.json is missing\)"):
    cross_validation.committee([run, os.path.join(option, "fold_0")],
                               str(tmp_path / "not_a_run"))
  assert not os.path.exists(tmp_path / "twice")


def test_a_baseline_dealt_otherwise_is_refused_before_training(cv_run,
                                                                converted,
                                                                tmp_path):
  run, _ = cv_run
  other = tmp_path / "other"
  other.mkdir()

  def train_fold_0(baseline):
    return cross_validation.cross_validate(
        converted, str(tmp_path / "cv"), TINY.model, TINY.train, folds=2,
        seed=3, num_shards=1, run_folds=[0], baseline_dir=str(baseline))

  with pytest.raises(UserError, match=r"other holds no cross-validation "
                     r"\(cross_validation.json is missing\)"):
    train_fold_0(other)
  with open(os.path.join(run, cross_validation.SETTINGS_JSON)) as f:
    settings = json.load(f)
  settings["seed"] = 4
  with open(other / cross_validation.SETTINGS_JSON, "w") as f:
    json.dump(settings, f)
  with pytest.raises(UserError, match=r"other deals its folds otherwise "
                     r"\(seed\): compare runs with the same --folds and "
                     r"--split_seed$"):
    train_fold_0(other)
  assert not (tmp_path / "cv" / "fold_0").exists()


def test_a_fold_out_of_range_is_refused_before_anything_is_written(
    converted, tmp_path):
  out = tmp_path / "cv"
  with pytest.raises(UserError, match=r"^--run_folds=2 is out of range: with "
                     r"--folds=2 the folds are 0 to 1$"):
    cross_validation.cross_validate(converted, str(out), TINY.model,
                                    TINY.train, folds=2, run_folds=[0, 2])
  assert not out.exists()


def test_too_many_folds_is_refused_before_anything_is_written(converted,
                                                              tmp_path):
  out = tmp_path / "cv"
  with pytest.raises(UserError, match=r"^class 0_speed_limit_20km_h has only "
                     r"4 track\(s\), fewer than --folds=5"):
    cross_validation.cross_validate(converted, str(out), TINY.model,
                                    TINY.train, folds=5)
  with pytest.raises(UserError, match=r"--folds=1 is out of range"):
    cross_validation.cross_validate(converted, str(out), TINY.model,
                                    TINY.train, folds=1)
  assert not out.exists()


def test_pooled_report_of_known_predictions():
  names = ["a", "b"]
  eye = np.eye(2)
  folds = [
      {"labels": np.array([0, 0, 1]), "probabilities": eye[[0, 1, 1]],
       "tracks": np.array([1, 1, 100001])},
      {"labels": np.array([0, 1, 1]), "probabilities": eye[[0, 1, 1]],
       "tracks": np.array([2, 100002, 100002])},
  ]
  curves = [{1: (0.5, 1.0), 2: (2 / 3, 0.5)}, {1: (1.0, 0.2), 2: (1.0, 0.1),
                                               3: (1.0, 0.1)}]
  report = cross_validation.pooled_report(folds, names, curves)
  assert (report["count"], report["tracks"]) == (6, 4)
  assert report["top1"] == pytest.approx(5 / 6)
  assert [c["correct"] for c in report["per_class"]] == [2, 3]
  assert [c["tracks"] for c in report["per_class"]] == [2, 2]
  # Only the epochs every fold logged; weighted by the folds' images.
  assert [r["epoch"] for r in report["curve"]] == [1, 2]
  assert report["curve"][1]["top1"] == pytest.approx(5 / 6)
  assert report["best_epoch"] == 2
  assert [f["top1"] for f in report["per_fold"]] == pytest.approx([2 / 3, 1])


@pytest.mark.slow
def test_the_final_model_trains_on_every_track(tmp_path):
  every_track = TINY.replace(validation_fraction=0.0)
  data = builders.build_dataset(str(tmp_path), every_track)
  manifest = tfrecord_reader.read_manifest(data["tfrecords"])
  assert sorted(manifest["splits"]) == ["test", "train"]
  assert manifest["splits"]["train"]["count"] == 36
  model_dir = builders.train_model(data["tfrecords"], str(tmp_path / "m"),
                                   every_track)
  best = checkpoints.read_best(model_dir)
  last = checkpoints.global_step(checkpoints.latest(model_dir))
  # Nothing to select by: best/ holds the last epoch.
  assert (best["step"], best["epoch"], best["val_top1"]) == (
      last, every_track.train.epochs, None)
  report = reports.checkpoint_report(model_dir, data["tfrecords"], "test")
  assert report["count"] == len(TINY.test_labels)


def test_the_tool_refuses_a_rare_class_in_one_line(converted, tmp_path, tool):
  out = tmp_path / "cv"
  proc = tool("cross_validate", f"--input_dir={converted}",
              f"--output_dir={out}", "--folds=6", check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines() == [
      "error: class 0_speed_limit_20km_h has only 4 track(s), fewer than "
      "--folds=6, so some fold would not validate it: pass --folds=4 or "
      "fewer"]
  assert not out.exists()
  missing = tool("cross_validate", f"--input_dir={converted}",
                 f"--output_dir={out}", check=False)
  assert missing.returncode == 1
  assert missing.stderr.strip().splitlines() == [
      "error: pass --folds to train, or --committee to pool finished runs"]
  bad = tool("cross_validate", f"--input_dir={converted}",
             f"--output_dir={out}", "--folds=2", "--run_folds=1,x",
             check=False)
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines() == [
      "error: flag --run_folds=1,x: --run_folds takes fold numbers, e.g. "
      "--run_folds=3,4"]


def test_the_tool_pools_a_committee_and_trains_nothing(cv_run, converted,
                                                      tmp_path, tool):
  run, whole = cv_run
  b = _column(run, str(tmp_path / "b"), [0, 1])
  out = tmp_path / "committee"
  for extra, dropped in (([f"--input_dir={converted}", "--folds=2"],
                          "--input_dir, --folds"),
                         (["--preset=gtsrb-99", "--split_seed=1",
                           "--epochs=3"],
                          "--preset, --split_seed, --epochs")):
    proc = tool("cross_validate", f"--committee={run},{b}",
                f"--output_dir={out}", *extra, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: --committee pools finished runs and trains nothing: drop "
        f"{dropped}"]
  assert not out.exists()
  proc = tool("cross_validate", f"--committee={run},{b}",
              f"--output_dir={out}")
  assert f"pooled top-1 {100 * whole['top1']:.2f}%" in proc.stdout
  assert f"{b}: top-1 {100 * whole['top1']:.2f}%" in proc.stdout
  assert (out / cross_validation.REPORT_MD).exists()


@pytest.mark.slow
def test_the_tool_trains_a_presets_recipe_with_flags_over_it(converted,
                                                              tmp_path, tool):
  out = tmp_path / "cv"
  tool("cross_validate", f"--input_dir={converted}", f"--output_dir={out}",
       "--folds=2", "--num_shards=1", "--preset=gtsrb-99", "--nocrop_roi",
       f"--image_size={TINY.image_size}", f"--fc_units={TINY.model.fc_units}",
       "--batch_size=9", "--epochs=1", "--warmup_epochs=0.5")
  with open(out / cross_validation.SETTINGS_JSON) as f:
    settings = json.load(f)
  # From the preset.
  assert settings["model"]["input_standardization"] == "equalize"
  assert settings["train"]["moving_average_decay"] == 0.999
  assert settings["train"]["augment_color"] and settings["train"]["seed"] == 1
  # From the flags.
  assert not settings["model"]["crop_roi"]
  assert settings["model"]["image_size"] == TINY.image_size
  assert (settings["train"]["epochs"], settings["train"]["batch_size"]) == (
      1, 9)
  with open(out / cross_validation.REPORT_JSON) as f:
    report = json.load(f)
  assert report["count"] == len(TINY.classes) * TINY.tracks * TINY.frames
  # Pooling alone trains nothing and gives the same figure.
  (out / cross_validation.REPORT_JSON).unlink()
  pooled = tool("cross_validate", f"--input_dir={converted}",
                f"--output_dir={out}", "--folds=2", "--num_shards=1",
                "--preset=gtsrb-99", "--nocrop_roi",
                f"--image_size={TINY.image_size}",
                f"--fc_units={TINY.model.fc_units}", "--batch_size=9",
                "--epochs=1", "--warmup_epochs=0.5", "--run_folds=",
                f"--baseline_dir={out}")
  assert f"pooled top-1 {100 * report['top1']:.2f}%" in pooled.stdout
  assert "partial" not in pooled.stdout
  assert (f"against {out} on folds 0,1: +0.00 points (95% interval +0.00 "
          "to +0.00 by track)\nbetween folds, retraining counted: +0.00 to "
          "+0.00") in pooled.stdout


def test_no_preset_resolves_to_the_configs_defaults():
  model, train, convert, settings = presets.resolve(None, {"epochs": 3})
  assert (model, convert, settings) == (ModelConfig(), ConvertConfig(),
                                        PipelineConfig())
  assert train == TrainConfig(epochs=3)
