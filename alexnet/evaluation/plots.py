"""Training curves from model_dir/train_log.jsonl, written as PNG files."""

import os

import matplotlib

matplotlib.use("Agg")  # files only; never a display
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position
from matplotlib import ticker  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from alexnet.estimator import train_log  # pylint: disable=wrong-import-position
from alexnet.core.errors import UserError  # pylint: disable=wrong-import-position
from alexnet.core.atomic_files import atomic_path  # pylint: disable=wrong-import-position

LOSS_PER_BATCH = "loss_per_batch.png"
LOSS_PER_EPOCH = "loss_per_epoch.png"
ACCURACY_PER_EPOCH = "accuracy_per_epoch.png"


def save_figure(fig, path):
  """Writes a matplotlib figure as PNG atomically and releases it."""
  with atomic_path(path) as tmp:
    fig.savefig(tmp, format="png", dpi=120)
  plt.close(fig)


def _plot_smoothed(ax, steps, values, color, label):
  """Raw values faintly, and their moving mean when there are enough."""
  ax.plot(steps, values, color=color, alpha=0.3, lw=0.8)
  window = min(50, len(values) // 5)
  if window > 1:
    values = np.convolve(values, np.ones(window) / window, mode="valid")
    steps = steps[window - 1:]
    label = f"{label} (mean of {window} batches)"
  ax.plot(steps, values, color=color, label=label)


def _plot_epochs(epochs, train_key, train_label, val_key, val_label, scale,
                 ylabel, title, path):
  """One value per epoch for training and (where run) validation."""
  fig, ax = plt.subplots(figsize=(8, 4.5))
  ax.plot([r["epoch"] for r in epochs],
          [scale * r[train_key] for r in epochs], "o-", label=train_label)
  val = [(r["epoch"], scale * r[val_key]) for r in epochs
         if r.get(val_key) is not None]
  if val:
    ax.plot(*zip(*val), "o-", label=val_label)
  ax.set(xlabel="epoch", ylabel=ylabel, title=title)
  ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  ax.legend()
  ax.grid(alpha=0.3)
  save_figure(fig, path)


def plot_training(model_dir, output_dir):
  """Writes the loss and accuracy curves of a training run into output_dir.

  Returns the paths written. UserError if model_dir has no training log.
  """
  path = train_log.log_path(model_dir)
  batches, epochs = train_log.read(path)
  if not batches:
    raise UserError(f"{path} is missing or empty: train into {model_dir} first")
  written = []

  fig, ax = plt.subplots(figsize=(8, 4.5))
  steps = np.array([r["step"] for r in batches])
  _plot_smoothed(ax, steps, np.array([r["loss"] for r in batches]),
                 "tab:blue", "loss with weight decay")
  _plot_smoothed(ax, steps, np.array([r["cross_entropy"] for r in batches]),
                 "tab:orange", "cross-entropy")
  ax.set(xlabel="step", ylabel="training loss", title="Loss per batch")
  ax.legend()
  ax.grid(alpha=0.3)
  written.append(os.path.join(output_dir, LOSS_PER_BATCH))
  save_figure(fig, written[-1])

  if epochs:
    written.append(os.path.join(output_dir, LOSS_PER_EPOCH))
    _plot_epochs(epochs, "train_cross_entropy", "training", "val_loss",
                 "validation", 1.0, "cross-entropy", "Loss per epoch",
                 written[-1])
    written.append(os.path.join(output_dir, ACCURACY_PER_EPOCH))
    _plot_epochs(epochs, "train_accuracy", "training (batches, dropout on)",
                 "val_top1", "validation top-1", 100.0, "accuracy (%)",
                 "Accuracy per epoch", written[-1])
  return written
