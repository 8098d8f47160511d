"""The train log (append, torn lines, truncation) and the curves drawn from it."""

import json
import os

import pytest

from alexnet.evaluation import plots

from alexnet.estimator import train_log
from alexnet.core.errors import UserError


def _write_log(model_dir, steps=60, steps_per_epoch=20):
  with train_log.Writer(train_log.log_path(model_dir)) as log:
    for step in range(1, steps + 1):
      epoch = (step - 1) // steps_per_epoch + 1
      log.write("batch", step=step, epoch=epoch, loss=3.0 / step + 1,
                cross_entropy=3.0 / step, accuracy=step / steps,
                learning_rate=1e-4)
      if step % steps_per_epoch == 0:
        log.write("epoch", step=step, epoch=epoch, train_loss=1.0,
                  train_cross_entropy=1.0 / epoch, train_accuracy=0.5,
                  val_loss=1.2 / epoch, val_top1=0.4 + 0.1 * epoch,
                  val_top5=0.9, images_per_sec=100.0, best=True)


def test_log_truncate_and_torn_line(tmp_path):
  _write_log(str(tmp_path))
  path = train_log.log_path(str(tmp_path))
  with open(path, "a") as f:
    f.write('{"type": "batch", "st')  # Killed mid-write.
  batches, epochs = train_log.read(path)
  assert len(batches) == 60 and len(epochs) == 3
  train_log.truncate(path, 40)
  batches, epochs = train_log.read(path)
  assert [r["step"] for r in batches] == list(range(1, 41))
  assert [r["step"] for r in epochs] == [20, 40]
  # The epoch line follows its last batch line; each row says when it was
  # written.
  with open(path) as f:
    rows = [json.loads(line) for line in f]
  assert (rows[20]["type"], rows[20]["step"]) == ("epoch", 20)
  times = [r["time"] for r in rows]
  assert times == sorted(times) and times[0] > 1.7e9


def test_training_curves(tmp_path):
  _write_log(str(tmp_path))
  out = tmp_path / "plots"
  out.mkdir()
  written = plots.plot_training(str(tmp_path), str(out))
  assert [os.path.basename(p) for p in written] == [
      plots.LOSS_PER_BATCH, plots.LOSS_PER_EPOCH, plots.ACCURACY_PER_EPOCH]
  for path in written:
    with open(path, "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert sorted(os.listdir(out)) == sorted(os.path.basename(p)
                                           for p in written)


def test_no_log_is_refused(tmp_path):
  with pytest.raises(UserError, match="train_log.jsonl is missing or empty"):
    plots.plot_training(str(tmp_path), str(tmp_path))
