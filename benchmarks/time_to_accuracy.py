"""Time to accuracy, DAWNBench-style: wall time from the start of training to
the first epoch whose validation top-1 reaches each threshold.

  python benchmarks/time_to_accuracy.py \\
      --runs=today=/work/runs/base,fast=/work/runs/fast --output=tta.md

Each run is a `tools/pipeline.py` run folder. The clock starts when its
train stage last started (pipeline.log) and stops at the epoch's line in
model/train_log.jsonl (its `time`), so it counts everything training does:
graph building, every step, the per-epoch validation and checkpoints.
A run with epochs logged before that start (training interrupted and
resumed) is refused: its wall time would not be one run's. Also lists each run's
settings that differ, its final validation and (when the pipeline had test
data) official-test top-1, and each time as a ratio to the first run's.
"""

import datetime
import json
import os
import re

from absl import app, flags

from alexnet.core import atomic_files
from alexnet.core.config import (ConvertConfig, ModelConfig, PipelineConfig,
                                 TrainConfig)
from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.estimator import train_log

flags.DEFINE_string("runs", None, "Comma-separated name=pipeline run folder "
                    "pairs; times are given as ratios to the first.")
flags.DEFINE_string("thresholds", "0.985,0.99", "Validation top-1 levels.")
flags.DEFINE_string("output", None, "Also write the table to this file.")
FLAGS = flags.FLAGS

_STARTED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) "
                      r"\[\d+/\d+\] train: started$")


def train_start(run_dir):
  """Unix time at which the run's train stage last started (pipeline.log)."""
  path = os.path.join(run_dir, "pipeline.log")
  try:
    with open(path) as f:
      starts = [m for m in map(_STARTED.match, f.read().splitlines()) if m]
  except OSError as e:
    raise UserError(f"{path}: {e.strerror}; pass a tools/pipeline.py "
                    "--output_dir in --runs") from None
  if not starts:
    raise UserError(f"{path}: the train stage has not started; pass a run "
                    "that trained")
  stamp = datetime.datetime.strptime(starts[-1].group(1), "%Y-%m-%d %H:%M:%S")
  # logging's asctime is local time, as is a naive datetime's timestamp().
  return stamp.timestamp() + int(starts[-1].group(2)) / 1000


def _stage(run_dir, name):
  path = os.path.join(run_dir, "stages", name + ".json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def measure(run_dir, thresholds):
  """{epochs: [(epoch, seconds since start, val_top1)], first: {threshold:
  (epoch, seconds) or None}, settings, validation, test} of one run."""
  start = train_start(run_dir)
  _, epochs = train_log.read(train_log.log_path(os.path.join(run_dir,
                                                              "model")))
  if not epochs:
    raise UserError(f"{run_dir}/model: no epoch has finished yet")
  if any("time" not in r for r in epochs):
    raise UserError(f"{run_dir}/model/train_log.jsonl has epoch lines "
                    "without times: it predates them; rerun the training")
  if epochs[0]["time"] < start:
    raise UserError(f"{run_dir}: its training was interrupted and resumed "
                    "(epochs logged before the train stage last started); "
                    "time to accuracy needs one uninterrupted run")
  curve = [(r["epoch"], r["time"] - start, r["val_top1"]) for r in epochs]
  first = {t: next(((e, s) for e, s, top1 in curve if top1 >= t), None)
           for t in thresholds}
  train = _stage(run_dir, "train")
  evaluation = (_stage(run_dir, "evaluate") or {}).get("result", {})
  # The stage's settings are the configs it ran, one dict each; a setting
  # added since the run has its default (what the run did without it).
  settings = {k: v for config in (ModelConfig(), TrainConfig(),
                                  ConvertConfig(), PipelineConfig())
              for k, v in config.to_dict().items()}
  settings.update({k: v for config in (train or {}).get("settings",
                                                         {}).values()
                   for k, v in (config.items() if isinstance(config, dict)
                                else ())})
  return {"epochs": curve, "first": first, "settings": settings,
          "finished": train is not None,
          "validation": evaluation.get("validation", {}).get("top1"),
          "test": evaluation.get("test", {}).get("top1")}


def _minutes(seconds):
  return f"{seconds / 60:.1f} min"


def table(results, thresholds):
  """Markdown: one row per run, then each run's validation curve."""
  names = list(results)
  base = results[names[0]]
  keys = sorted(set().union(*(r["settings"] for r in results.values())))
  differing = [k for k in keys if len({json.dumps(r["settings"].get(k))
                                       for r in results.values()}) > 1]
  header = (["run"] + [f"to {100 * t:.1f}%" for t in thresholds] +
            ["training (all epochs)", "best validation", "official test",
             "settings that differ"])
  lines = ["| " + " | ".join(header) + " |",
           "|" + "---|" * len(header)]
  for name, r in results.items():
    cells = [name]
    for t in thresholds:
      hit, ref = r["first"][t], base["first"][t]
      if hit is None:
        cells.append("not reached")
        continue
      ratio = (f", {hit[1] / ref[1]:.2f}x" if ref and name != names[0]
               else "")
      cells.append(f"{_minutes(hit[1])} (epoch {hit[0]}{ratio})")
    last = r["epochs"][-1]
    cells.append(f"{_minutes(last[1])}, {last[0]} epochs" +
                 ("" if r["finished"] else " so far"))
    best = max(top1 for _, _, top1 in r["epochs"])
    cells.append(f"{100 * best:.2f}%")
    cells.append("-" if r["test"] is None else f"{100 * r['test']:.2f}%")
    cells.append(", ".join(f"{k}={json.dumps(r['settings'].get(k))}"
                           for k in differing) or "-")
    lines.append("| " + " | ".join(cells) + " |")
  for name, r in results.items():
    lines.append("")
    lines.append(f"{name}: validation top-1 by epoch (minutes): " + ", ".join(
        f"{100 * top1:.2f} ({s / 60:.1f})" for _, s, top1 in r["epochs"]))
  return "\n".join(lines) + "\n"


def _pairs(text):
  pairs = [p.split("=", 1) for p in (text or "").split(",") if p]
  if not pairs or any(len(p) != 2 for p in pairs):
    raise UserError(f"--runs={text}: give name=RUN_DIR pairs, e.g. "
                    "--runs=today=runs/a,fast=runs/b")
  return dict(pairs)


def _thresholds(text):
  try:
    values = [float(v) for v in text.split(",")]
  except ValueError:
    values = []
  if not values or not all(0 < v <= 1 for v in values):
    raise UserError(f"--thresholds={text}: give top-1 fractions in (0, 1], "
                    "e.g. 0.985,0.99")
  return values


@exit_on_user_error
def main(argv):
  del argv
  thresholds = _thresholds(FLAGS.thresholds)
  results = {name: measure(path, thresholds)
             for name, path in _pairs(FLAGS.runs).items()}
  text = table(results, thresholds)
  print(text)
  if FLAGS.output:
    atomic_files.atomic_write(FLAGS.output, text)


if __name__ == "__main__":
  app.run(main)
