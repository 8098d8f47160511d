"""K-fold cross-validation by track: an estimate of a recipe that predicts
the test set, and the epoch count to train the final model with.

`cross_validate` trains one model per fold of tfrecord_writer.deal_folds
(each class's tracks dealt evenly across K folds) with one ModelConfig and
TrainConfig, and pools what the folds validated: every training image is
predicted once, by the model that did not train on it.

  OUTPUT_DIR/cross_validation.json  the settings (a rerun with others is
                                    refused)
  OUTPUT_DIR/fold_I/tfrecords       fold I's dataset (validation: fold I)
  OUTPUT_DIR/fold_I/model           its model_dir
  OUTPUT_DIR/fold_I/predictions.npz its last epoch on fold I; written last,
                                    it marks the fold done
  OUTPUT_DIR/report.md, report.json the pooled report

One ordinary TFRecord dataset per fold (not one holding every fold): the
trainer, its input pipeline and cache, tools/evaluate.py and tools/train.py
read each unchanged, and any fold can be rerun or inspected alone; the cost
is K copies of the training JPEGs on disk, written in a small fraction of
one fold's training time.

The pooled figure is each fold's LAST epoch, not its best/: the final model
trains on every track with the chosen schedule and keeps its last epoch
(there is nothing left to select by), so that is what the estimate must
measure; a best epoch picked on the same tracks it is scored on would
flatter it. The curve by epoch pools epoch e of every fold (each fold's
train_log validation, weighted by its images), for choosing the schedule's
epoch count; the count chosen on it is itself a selection, so its top-1 is
a little optimistic.

A rerun skips the folds that have predictions.npz, resumes an interrupted
fold's training from its checkpoint, and rewrites the report. `run_folds`
trains only some folds, so that K machines (or sessions) can each train
one: copy each finished fold_I folder (the report reads its
predictions.npz, model/train_log.jsonl and tfrecords/manifest.json; the
checkpoints and shards may stay behind) into one OUTPUT_DIR and rerun with
no fold to train (run_folds=[]) to pool them. Until every fold is done
the report is marked partial and pools the folds that are.

An option of a recipe is judged against the recipe without it on the same
deal (`baseline_dir`): image by image on the folds both runs have done,
so the tracks that are hard for both cancel out of the difference and
its interval: a few folds can rank two recipes whose own intervals
overlap. That interval by track takes each fold's two models as given;
retraining alone moves a fold's figure too, so with two folds or more the
comparison also gives the t interval of the folds' differences, which
counts that spread.

A committee of runs on the same deal (`committee`: each image's
probabilities the mean of the runs', as serving.committee exports them as
one model) is pooled into a run folder of its own, on the folds every
column has done, so it reports, compares and serves as a baseline like a
trained run; the report adds each column's top-1 on the same images.
"""

import json
import os

import numpy as np
from tqdm import tqdm

from alexnet.core.atomic_files import atomic_path, atomic_write, ensure_dir
from alexnet.core import config
from alexnet.core.config import PipelineConfig
from alexnet.core.errors import UserError
from alexnet.datasets import jpeg_folders
from alexnet.datasets import tfrecord_reader
from alexnet.datasets import tfrecord_writer
from alexnet.estimator import train_log
from alexnet.evaluation import metrics
from alexnet.evaluation import reports
from alexnet.training import trainer

SETTINGS_JSON = "cross_validation.json"
PREDICTIONS = "predictions.npz"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def fold_dir(output_dir, fold):
  return os.path.join(output_dir, f"fold_{fold}")


def _predictions_path(output_dir, fold):
  return os.path.join(fold_dir(output_dir, fold), PREDICTIONS)


def _read_settings(output_dir):
  """A run's saved settings; None where it has none."""
  path = os.path.join(output_dir, SETTINGS_JSON)
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    return None
  except ValueError:
    raise UserError(f"{path} is corrupt: pass a new --output_dir") from None


def _check_settings(output_dir, settings):
  """Writes the settings of a new run; UserError if output_dir holds a run
  with other settings."""
  saved = _read_settings(output_dir)
  if saved is None:
    ensure_dir(output_dir)
    atomic_write(os.path.join(output_dir, SETTINGS_JSON),
                 json.dumps(settings, indent=2) + "\n")
    return
  # A setting added since the run was started takes its default.
  saved = config.with_defaults(saved)
  changed = sorted(k for k in set(saved) | set(settings)
                   if saved.get(k) != settings.get(k))
  if changed:
    raise UserError(f"{output_dir} holds a cross-validation with other "
                    f"settings ({', '.join(changed)}): pass a new "
                    "--output_dir, or the same settings to resume it")


def _run_fold(converted_dir, output_dir, fold, folds, model, train_config,
              seed, num_shards, num_threads):
  """Builds, trains and predicts fold `fold` (what is not done yet)."""
  here = fold_dir(output_dir, fold)
  data_dir = os.path.join(here, "tfrecords")
  model_dir = os.path.join(here, "model")
  done = _predictions_path(output_dir, fold)
  if os.path.exists(done):
    return
  if not os.path.exists(os.path.join(data_dir, tfrecord_writer.MANIFEST)):
    ensure_dir(here)
    tfrecord_writer.build(converted_dir, data_dir, num_shards=num_shards,
                          seed=seed, folds=folds, fold=fold, overwrite=True)
  trainer.train(data_dir, model_dir, model, train_config)
  labels, probabilities, tracks = reports.split_predictions(
      model_dir, data_dir, "validation", "latest", train_config.batch_size,
      num_threads)
  with atomic_path(done) as tmp:
    with open(tmp, "wb") as f:
      np.savez(f, labels=labels, probabilities=probabilities, tracks=tracks)


def _fold_predictions(output_dir, fold):
  """A done fold's predictions {labels, probabilities, tracks}."""
  with np.load(_predictions_path(output_dir, fold)) as saved:
    return {k: saved[k] for k in ("labels", "probabilities", "tracks")}


def _fold_curve(output_dir, fold):
  """{epoch: (val_top1, val_loss)} of a fold's training log (the last row
  of each epoch)."""
  _, epochs = train_log.read(train_log.log_path(
      os.path.join(fold_dir(output_dir, fold), "model")))
  return {r["epoch"]: (r["val_top1"], r["val_loss"]) for r in epochs
          if r.get("val_top1") is not None}


def pooled_curve(curves, counts):
  """[{epoch, top1, loss}] of the epochs every fold logged: epoch e's
  validation over all folds (each fold's figure weighted by its images)."""
  total = sum(counts)
  rows = []
  for epoch in sorted(set.intersection(*(set(c) for c in curves))):
    rows.append({
        "epoch": epoch,
        "top1": sum(n * c[epoch][0] for c, n in zip(curves, counts)) / total,
        "loss": sum(n * c[epoch][1] for c, n in zip(curves, counts)) / total})
  return rows


def pooled_report(predictions, class_names, curves=None, fold_ids=None):
  """The report of the folds' predictions taken together.

  Args:
    predictions: per fold {labels, probabilities, tracks}.
    class_names: the model's classes.
    curves: per fold {epoch: (val_top1, val_loss)}, or None.
    fold_ids: each prediction's fold number; None: 0, 1, ...

  Returns:
    metrics.classification_report of all of them, its per_class rows with
    `tracks` and `interval` (95%, by track), plus per_fold [{fold, count,
    tracks, top1, top1_interval}], curve (pooled_curve) and best_epoch (the
    curve's highest top-1, the earliest on a tie; None without a curve).
  """
  labels = np.concatenate([p["labels"] for p in predictions])
  probabilities = np.concatenate([p["probabilities"] for p in predictions])
  tracks = np.concatenate([p["tracks"] for p in predictions])
  report = metrics.classification_report(labels, probabilities, class_names,
                                         tracks)
  intervals = metrics.class_intervals(labels, probabilities.argmax(axis=1),
                                      tracks, len(class_names))
  for row, extra in zip(report["per_class"], intervals):
    row.update(tracks=extra["tracks"], interval=extra["interval"])
  report["per_fold"] = []
  if fold_ids is None:
    fold_ids = range(len(predictions))
  for fold, p in zip(fold_ids, predictions):
    one = metrics.classification_report(p["labels"], p["probabilities"],
                                        class_names, p["tracks"])
    report["per_fold"].append({"fold": fold, **{
        k: one[k] for k in ("count", "tracks", "top1", "top1_interval")}})
  curve = pooled_curve(curves, [len(p["labels"]) for p in predictions]) \
      if curves else []
  report["curve"] = curve
  report["best_epoch"] = (max(curve, key=lambda r: (r["top1"],
                                                    -r["epoch"]))["epoch"]
                          if curve else None)
  return report


def _check_same_deal(output_dir, baseline_dir):
  """UserError unless baseline_dir is a cross-validation whose folds are
  dealt as output_dir's."""
  ours, theirs = _read_settings(output_dir), _read_settings(baseline_dir)
  if theirs is None:
    raise UserError(f"{baseline_dir} holds no cross-validation "
                    f"({SETTINGS_JSON} is missing): pass a tools/"
                    "cross_validate.py --output_dir as --baseline_dir")
  changed = [k for k in ("folds", "seed") if ours[k] != theirs[k]]
  if changed:
    raise UserError(f"{baseline_dir} deals its folds otherwise ("
                    f"{', '.join(changed)}): compare runs with the same "
                    "--folds and --split_seed")


def _check_same_images(here, there, fold, output_dir, other_dir):
  if not all(np.array_equal(here[k], there[k]) for k in ("labels", "tracks")):
    raise UserError(f"fold {fold} of {other_dir} holds other images than "
                    f"fold {fold} of {output_dir}: compare runs dealt from "
                    "the same converted training set")


def compare_runs(output_dir, baseline_dir, predictions):
  """The run's done folds (`predictions`: {fold: its predictions}) against
  the same folds of `baseline_dir` (a cross-validation with the same deal): {baseline_dir, folds (those both
  have done), count, top1, baseline_top1, difference (top-1 here minus
  there), interval (95%, paired by track: metrics.paired_difference),
  better, worse (images right only here, only there)}; only
  {baseline_dir, folds: []} while the baseline has none of them done (a
  run beside it may finish first: its hours of training still report)."""
  _check_same_deal(output_dir, baseline_dir)
  common = [f for f in sorted(predictions)
            if os.path.exists(_predictions_path(baseline_dir, f))]
  if not common:
    return {"baseline_dir": baseline_dir, "folds": []}
  right, right_there, tracks, per_fold = [], [], [], []
  for fold in common:
    here = predictions[fold]
    there = _fold_predictions(baseline_dir, fold)
    _check_same_images(here, there, fold, output_dir, baseline_dir)
    right.append(here["probabilities"].argmax(1) == here["labels"])
    right_there.append(there["probabilities"].argmax(1) == there["labels"])
    tracks.append(here["tracks"])
    per_fold.append({"fold": fold, "count": int(right[-1].size),
                     "difference": float(right[-1].mean()
                                         - right_there[-1].mean())})
  # Each fold's models were trained apart: the spread of the folds'
  # differences holds the retraining's spread too, which the interval by
  # track (one model per fold and side) cannot see.
  between = (metrics.mean_interval([f["difference"] for f in per_fold])[1:]
             if len(per_fold) > 1 else None)
  right, right_there = np.concatenate(right), np.concatenate(right_there)
  difference, low, high = metrics.paired_difference(
      right_there, right, np.concatenate(tracks))
  return {"baseline_dir": baseline_dir, "folds": common,
          "count": int(right.size), "top1": float(right.mean()),
          "baseline_top1": float(right_there.mean()),
          "difference": difference, "interval": [low, high],
          "per_fold": per_fold,
          "between_folds": None if between is None else list(between),
          "better": int((right & ~right_there).sum()),
          "worse": int((right_there & ~right).sum())}


def format_markdown(report, command=None):
  """report.md: the pooled figure, the folds, the curve, the classes."""
  low, high = report["top1_interval"]
  done, folds = len(report["per_fold"]), report["folds"]
  title = (f"{folds} folds" if done == folds else
           f"{done} of {folds} folds: partial, the others not yet run")
  lines = [
      f"# Cross-validation by track ({title})", "",
      f"Pooled top-1 **{report['top1']:.2%}** (95% interval {low:.2%}-"
      f"{high:.2%} by track), {report['count']} images of "
      f"{report['tracks']} tracks, each predicted by the fold model that "
      "did not train on it (its last epoch).", "",
  ]
  if command:
    lines += [f"Command: `{command}`", ""]
  lines += ["| fold | images | tracks | top-1 | 95% interval |",
            "|---|---|---|---|---|"]
  for f in report["per_fold"]:
    lo, hi = f["top1_interval"]
    lines.append(f"| {f['fold']} | {f['count']} | {f['tracks']} | "
                 f"{f['top1']:.2%} | {lo:.2%}-{hi:.2%} |")
  if report.get("columns"):
    lines += ["", "## The committee's columns", "",
              "Each image's probabilities are the mean of these runs'; "
              "each alone on the same images:", "",
              "| run | top-1 | errors |", "|---|---|---|"]
    lines += [f"| {c['dir']} | {c['top1']:.2%} | {c['errors']} |"
              for c in report["columns"]]
  if report["curve"]:
    lines += ["", "## Pooled validation by epoch", "",
              f"Highest top-1 at epoch {report['best_epoch']} (a choice made "
              "on these tracks: its figure is a little optimistic).", "",
              "| epoch | top-1 | loss |", "|---|---|---|"]
    lines += [f"| {r['epoch']} | {r['top1']:.2%} | {r['loss']:.4f} |"
              for r in report["curve"]]
  against = report.get("against")
  if against and not against["folds"]:
    lines += ["", f"## Against {against['baseline_dir']}", "",
              "None of the folds done here is done there yet: rerun with "
              "--run_folds= (none to train) once they are."]
  elif against:
    low, high = against["interval"]
    lines += ["", f"## Against {against['baseline_dir']}", "",
              f"On the folds both runs have done ("
              f"{', '.join(map(str, against['folds']))}; {against['count']} "
              f"images): top-1 {against['top1']:.2%} here against "
              f"{against['baseline_top1']:.2%} there, a difference of "
              f"{100 * against['difference']:+.2f} points (95% interval "
              f"{100 * low:+.2f} to {100 * high:+.2f}, paired by track). "
              f"{against['better']} images are right only here, "
              f"{against['worse']} only there."]
    per_fold = ", ".join(f"fold {f['fold']} {100 * f['difference']:+.2f}"
                         for f in against["per_fold"])
    if against["between_folds"]:
      low, high = against["between_folds"]
      lines += ["", f"By fold: {per_fold}. Between folds, which counts "
                "each fold's retraining too: 95% interval of the mean "
                f"difference {100 * low:+.2f} to {100 * high:+.2f} points."]
    else:
      lines += ["", "One fold: the interval by track counts which tracks "
                "were drawn, not how far retraining alone moves a fold; "
                "compare on more folds for an interval that does."]
  lines += ["", "## Accuracy per class", "",
            "| id | sign | images | tracks | accuracy | 95% interval |",
            "|---|---|---|---|---|---|"]
  for c in report["per_class"]:
    if not c["count"]:
      continue
    lo, hi = c["interval"]
    lines.append(f"| {c['id']} | {c['name']} | {c['count']} | {c['tracks']} "
                 f"| {c['accuracy']:.2%} | {lo:.2%}-{hi:.2%} |")
  return "\n".join(lines) + "\n"


def cross_validate(converted_dir, output_dir, model, train_config, folds,
                   seed=0, num_shards=2, num_threads=0, command=None,
                   log=print, run_folds=None, baseline_dir=None):
  """Trains and predicts every fold (those not done yet), or those of
  `run_folds`; writes and returns the report of the folds done (see the
  module docstring): `partial` is True while some fold is not.

  Args:
    converted_dir: a converted training set (tools/convert_dataset.py).
    output_dir: the run folder.
    model, train_config: the ModelConfig and TrainConfig of every fold.
    folds: K, at least 2 and at most the tracks of the rarest class.
    seed: of the deal of the tracks (and the shard order).
    num_shards: TFRecord shards per split.
    num_threads: op threads of the prediction (0: all cores).
    command: the command line, for the report.
    log: callable taking one line.
    run_folds: the fold numbers to train and predict here; None: all.
    baseline_dir: another cross-validation with the same deal (e.g. the
      recipe without an option) to compare with, fold by fold (the
      report's `against`: compare_runs); None: none.
  """
  PipelineConfig(folds=folds, fold=0)  # folds in range: one line if not
  run_folds = range(folds) if run_folds is None else sorted(set(run_folds))
  for fold in run_folds:
    if not 0 <= fold < folds:
      raise UserError(f"--run_folds={fold} is out of range: with --folds="
                      f"{folds} the folds are 0 to {folds - 1}")
  # Refused here, before anything is written, if a class is too rare.
  tfrecord_writer.deal_folds(jpeg_folders.read_annotations(converted_dir),
                             folds, seed)
  _check_settings(output_dir, {
      "converted_dir": os.path.abspath(converted_dir), "folds": folds,
      "seed": seed, "num_shards": num_shards, "model": model.to_dict(),
      "train": train_config.to_dict()})
  if baseline_dir:  # before hours of training, not after
    _check_same_deal(output_dir, baseline_dir)
  for fold in tqdm(run_folds, desc="folds", unit="fold"):
    _run_fold(converted_dir, output_dir, fold, folds, model, train_config,
              seed, num_shards, num_threads)
    log(f"fold {fold}: predicted")
  done = _done_folds(output_dir, folds)
  if not done:
    raise UserError(f"no fold of {output_dir} is done yet: name folds to "
                    "train in --run_folds, or copy finished fold_I folders "
                    "into it")
  return _write_report(output_dir, folds, done, output_dir,
                       [_fold_curve(output_dir, f) for f in done], command,
                       baseline_dir)


def _done_folds(output_dir, folds):
  return [f for f in range(folds)
          if os.path.exists(_predictions_path(output_dir, f))]


def _write_report(output_dir, folds, done, names_dir, curves, command,
                  baseline_dir, **extra):
  """Pools the done folds' predictions (class names from names_dir's fold
  datasets), writes report.json and report.md, and returns the report."""
  predictions = [_fold_predictions(output_dir, f) for f in done]
  manifest = tfrecord_reader.read_manifest(
      os.path.join(fold_dir(names_dir, done[0]), "tfrecords"))
  report = pooled_report(predictions, tfrecord_reader.class_names(manifest),
                         curves, done)
  report.update(folds=folds, partial=len(done) < folds, command=command,
                **extra)
  if baseline_dir:
    report["against"] = compare_runs(output_dir, baseline_dir,
                                     dict(zip(done, predictions)))
  atomic_write(os.path.join(output_dir, REPORT_JSON),
               json.dumps(report, indent=2) + "\n")
  atomic_write(os.path.join(output_dir, REPORT_MD),
               format_markdown(report, command))
  return report


def committee(column_dirs, output_dir, command=None, baseline_dir=None):
  """Pools a committee of cross-validations into output_dir and writes and
  returns its report (see the module docstring).

  Args:
    column_dirs: two or more cross-validation run folders with the same
      deal (folds and split seed), the committee's columns.
    output_dir: the committee's run folder.
    command: the command line, for the report.
    baseline_dir: as cross_validate's.

  Returns:
    cross_validate's report of the folds every column has done, plus
    `columns` [{dir, top1, errors}]: each column alone on those images.
  """
  if len(column_dirs) < 2:
    raise UserError(f"a committee needs two runs or more, not "
                    f"{len(column_dirs)}: name them comma-separated")
  paths = [os.path.abspath(d) for d in column_dirs]
  if len(set(paths)) < len(paths):
    raise UserError(f"the committee {', '.join(column_dirs)} names a run "
                    "twice: name each run once")
  for d in column_dirs:
    if _read_settings(d) is None:
      raise UserError(f"{d} holds no cross-validation ({SETTINGS_JSON} is "
                      "missing): a committee's runs are tools/"
                      "cross_validate.py --output_dirs")
  first = column_dirs[0]
  for other in column_dirs[1:]:
    _check_same_deal(first, other)
  deal = _read_settings(first)
  folds = deal["folds"]
  _check_settings(output_dir, {
      "folds": folds, "seed": deal["seed"],
      "committee": paths})
  done = sorted(set.intersection(*(set(_done_folds(d, folds))
                                   for d in column_dirs)))
  if not done:
    raise UserError(f"no fold is done in every run of the committee "
                    f"({', '.join(column_dirs)}): finish one fold in each")
  right = {d: [] for d in column_dirs}
  for fold in done:
    columns = [_fold_predictions(d, fold) for d in column_dirs]
    for d, p in zip(column_dirs, columns):
      _check_same_images(columns[0], p, fold, first, d)
      right[d].append(p["probabilities"].argmax(1) == p["labels"])
    ensure_dir(fold_dir(output_dir, fold))
    with atomic_path(_predictions_path(output_dir, fold)) as tmp:
      with open(tmp, "wb") as f:
        np.savez(f, labels=columns[0]["labels"], tracks=columns[0]["tracks"],
                 probabilities=np.mean([p["probabilities"] for p in columns],
                                       axis=0))
  columns = [{"dir": d, "top1": float(np.concatenate(r).mean()),
              "errors": int((~np.concatenate(r)).sum())}
             for d, r in right.items()]
  return _write_report(output_dir, folds, done, first, None, command,
                       baseline_dir, columns=columns)
