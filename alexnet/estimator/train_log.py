"""model_dir/train_log.jsonl: one JSON line per training step and per epoch.

  {"type": "batch", "time", "step", "epoch", "loss", "cross_entropy",
   "accuracy", "learning_rate"}
  {"type": "epoch", "time", "step", "epoch", "train_loss",
   "train_cross_entropy", "train_accuracy", "val_loss", "val_top1",
   "val_top5", "images_per_sec", "best"}

`time` is when the row was written (Unix seconds): the epoch rows' times
give the wall time to an accuracy (benchmarks/time_to_accuracy.py).

`loss` includes the weight-decay term; `cross_entropy` and `val_loss` do not,
so those two compare training with validation.
`step` is the global step after the batch (the epoch's last step for an epoch
line); epochs count from 1. Lines are flushed as written, so after a crash the
log runs a little past the last checkpoint; `truncate` drops those lines when
training resumes from that checkpoint, so each step appears once. In a
cluster the chief logs the steps it ran a batch of: after it restarts, a step
aggregated from the other workers' gradients alone has no line.
"""

import json
import os
import time

from alexnet.core.atomic_files import atomic_write

LOG_NAME = "train_log.jsonl"


def log_path(model_dir):
  return os.path.join(model_dir, LOG_NAME)


def read(path):
  """Returns (batch rows, epoch rows); both empty if there is no log yet.

  A torn last line (the process killed mid-write) is skipped.
  """
  batches, epochs = [], []
  if not os.path.exists(path):
    return batches, epochs
  with open(path) as f:
    for line in f:
      try:
        row = json.loads(line)
      except json.JSONDecodeError:
        continue
      (epochs if row.get("type") == "epoch" else batches).append(row)
  return batches, epochs


def truncate(path, last_step):
  """Drops rows after `last_step` (those the resumed run will redo)."""
  if not os.path.exists(path):
    return
  batches, epochs = read(path)
  kept = sorted((r for r in batches + epochs if r["step"] <= last_step),
                key=lambda r: (r["step"], r["type"] == "epoch"))
  atomic_write(path, "".join(json.dumps(r) + "\n" for r in kept))


class Writer:
  """Appends rows to the log, flushing each so a kill loses none."""

  def __init__(self, path):
    self.path = path
    self._file = open(path, "a")

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def truncate(self, last_step):
    """`truncate` while appending: a session recovered from an older
    checkpoint redoes the steps after it."""
    self._file.close()
    truncate(self.path, last_step)
    self._file = open(self.path, "a")

  def write(self, row_type, **fields):
    self._file.write(json.dumps({"type": row_type,
                                 "time": round(time.time(), 3), **fields}) + "\n")
    self._file.flush()

  def close(self):
    self._file.close()
