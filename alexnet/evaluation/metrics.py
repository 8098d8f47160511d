"""Classification metrics from predicted probabilities, and their display.

Shared by the TensorFlow evaluation and the TensorFlow Lite tools, so both
report the same numbers the same way.

Top-k counts a tie against the label: an image is a top-k hit only when
fewer than k other classes score at least as high as its label. That is the
opposite of `tf.math.in_top_k`, which counts every class tied at the k-th
score as inside the top k. We take the strict convention because ties are
common exactly where the figures are compared: an int8 model's output has
256 levels, so many classes share the score 0 (and a float softmax can
underflow to 0 too); with ties as hits a model that scores every class
alike would read top-5 100%, and a quantized model would look better than
the float one it came from for no reason of its own. Counted against the
label, top-k is what a user sees who is shown k classes and no more.
Top-1 is the model's prediction (argmax, a tie going to the lower class id,
as every argmax does): the class the confusion matrix and the agreement
count, and the one a deployed model returns.

Top-1 comes with a 95% interval by track. GTSRB's ~30 frames of one track
are near-duplicates that a model reads alike, so an error count behaves like
one draw per track, not per image: an interval that took the images as
independent would be several times too narrow, and a validation figure
would look surer than it is. The interval is Wilson's score interval at the
effective sample size that the spread of the tracks' accuracies gives (a
cluster-robust variance of the mean); with each image its own track it is
the plain Wilson interval.
"""


import numpy as np


# Probabilities are clipped before the log so a confident miss costs a large
# but finite loss.
_EPSILON = 1e-12


def track_groups(tracks, count):
  """Group index [N] (0..G-1) of each of `count` images by track id
  (`tracks` [N]; None or -1: an image of its own)."""
  if tracks is None:
    tracks = np.full(count, -1)
  tracks = np.array(tracks, dtype=np.int64)
  if tracks.size != count:
    raise ValueError(f"{tracks.size} track ids for {count} labels")
  # Images without a track get ids of their own, past every real one.
  own = tracks < 0
  tracks[own] = tracks.max(initial=0) + 1 + np.arange(own.sum())
  return np.unique(tracks, return_inverse=True)[1]


def _variance_of_mean(values, group):
  """The cluster-robust variance of the mean of `values` [N] whose images
  of one group (indices [N], 0..G-1) are drawn together."""
  sizes = np.bincount(group).astype(np.float64)
  sums = np.bincount(group, weights=values)
  groups = sizes.size
  spread = ((sums - values.mean() * sizes) ** 2).sum()
  return spread * groups / max(groups - 1, 1) / values.size ** 2


def top1_interval(correct, tracks=None, z=1.96):
  """(low, high): the interval of the mean of `correct` (bools [N]) with
  images of one track (`tracks`, ids [N]; None or -1: an image of its own)
  drawn together; see the module docstring. z=1.96: 95%."""
  correct = np.asarray(correct, dtype=np.float64)
  group = track_groups(tracks, correct.size)
  n, groups = correct.size, int(group.max()) + 1
  p = correct.mean()
  variance = _variance_of_mean(correct, group)
  # No spread (no error, or none right): each track counts once.
  effective = p * (1 - p) / variance if variance > 0 else float(groups)
  effective = min(effective, float(n))
  centre = (p + z * z / (2 * effective)) / (1 + z * z / effective)
  half = z / (1 + z * z / effective) * np.sqrt(
      p * (1 - p) / effective + z * z / (4 * effective ** 2))
  return float(max(centre - half, 0.0)), float(min(centre + half, 1.0))


def paired_difference(correct_a, correct_b, tracks=None, z=1.96):
  """(difference, low, high): top-1 of b minus top-1 of a on the same
  images (`correct_a`, `correct_b` bools [N]), with its interval (z=1.96:
  95%) by track as top1_interval draws them. Paired, so what is hard for
  both cancels: far narrower than the two intervals apart. The normal
  interval of the mean per-image difference; [0, 0] where no image
  differs."""
  a = np.asarray(correct_a, dtype=np.float64)
  b = np.asarray(correct_b, dtype=np.float64)
  if a.shape != b.shape:
    raise ValueError(f"{a.size} and {b.size} predictions: not the same "
                     "images")
  change = b - a
  half = z * np.sqrt(_variance_of_mean(change, track_groups(tracks, a.size)))
  difference = float(change.mean())
  return difference, float(difference - half), float(difference + half)


# Two-sided 95% quantiles of Student's t by degrees of freedom 1..30: the
# interval of a mean over a few folds; past 30 the normal's with its
# Cornish-Fisher terms (within 0.001).
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
        2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
        2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
        2.042)


def mean_interval(values):
  """(mean, low, high): the 95% t interval of the mean of a few independent
  `values` (at least 2), e.g. one figure per fold, each fold's model
  trained apart, so that it counts the spread of retraining too."""
  values = np.asarray(values, dtype=np.float64)
  if values.size < 2:
    raise ValueError(f"an interval between values needs 2, got {values.size}")
  df = values.size - 1
  t = (_T95[df - 1] if df <= len(_T95)
       else 1.96 + 2.372 / df + 2.82 / df ** 2)
  half = t * values.std(ddof=1) / np.sqrt(values.size)
  mean = float(values.mean())
  return mean, float(mean - half), float(mean + half)


def classification_report(labels, probabilities, class_names, tracks=None):
  """Summarizes predictions of a labeled set.

  Args:
    labels: int class ids [N].
    probabilities: [N, C] class probabilities (rows sum to 1).
    class_names: C names, index = class id.
    tracks: each image's track id [N] (-1: none), for top-1's interval;
      None: every image its own.

  Returns:
    dict with count, top1, top1_interval ([low, high] at 95%, by track),
    tracks (how many the interval drew), top5 (fractions; top-5 counts ties
    against the label, see the module docstring), loss (mean cross-entropy),
    per_class [{id, name, count, correct, accuracy (None if count 0)}] and
    confusion (C x C nested lists, rows true class, columns predicted).
  """
  labels = np.asarray(labels, dtype=np.int64)
  probabilities = np.asarray(probabilities, dtype=np.float64)
  num_classes = len(class_names)
  if labels.size == 0:
    raise ValueError("no examples to report on")
  if probabilities.shape != (labels.size, num_classes):
    raise ValueError(f"probabilities have shape {probabilities.shape}, "
                     f"expected ({labels.size}, {num_classes})")
  predicted = probabilities.argmax(axis=1)
  label_prob = probabilities[np.arange(labels.size), labels]
  rank = top_k_rank(probabilities, labels)
  confusion = np.zeros([num_classes, num_classes], dtype=np.int64)
  np.add.at(confusion, (labels, predicted), 1)
  per_class = []
  for i, name in enumerate(class_names):
    count = int(confusion[i].sum())
    correct = int(confusion[i, i])
    per_class.append({"id": i, "name": name, "count": count,
                      "correct": correct,
                      "accuracy": correct / count if count else None})
  correct = predicted == labels
  groups = track_groups(tracks, labels.size)
  return {
      "count": int(labels.size),
      "top1": float(correct.mean()),
      "top1_interval": list(top1_interval(correct, groups)),
      "tracks": int(groups.max()) + 1,
      "top5": float((rank < 5).mean()),
      "loss": float(-np.log(np.maximum(label_prob, _EPSILON)).mean()),
      "per_class": per_class,
      "confusion": confusion.tolist(),
  }


def class_intervals(labels, predicted, tracks=None, num_classes=None):
  """[{count, tracks, interval}] per class id (0..num_classes-1, default
  labels.max()): its images, tracks and the 95% interval by track of its
  accuracy (None without images)."""
  labels = np.asarray(labels, dtype=np.int64)
  correct = np.asarray(predicted) == labels
  groups = track_groups(tracks, labels.size)
  rows = []
  for c in range(labels.max() + 1 if num_classes is None else num_classes):
    mine = labels == c
    rows.append({
        "count": int(mine.sum()),
        "tracks": int(np.unique(groups[mine]).size),
        "interval": (list(top1_interval(correct[mine], groups[mine]))
                     if mine.any() else None)})
  return rows


def top_k_rank(probabilities, labels):
  """The label's rank per row, ties counted against it: the number of other
  classes scoring at least as high (a top-k hit is rank < k; see the module
  docstring). A NaN score of the label ranks last."""
  probabilities = np.asarray(probabilities)
  labels = np.asarray(labels, dtype=np.int64)
  label_prob = probabilities[np.arange(labels.size), labels]
  rank = (probabilities >= label_prob[:, None]).sum(axis=1) - 1
  return np.where(np.isnan(label_prob), probabilities.shape[1], rank)


def format_report(report):
  """The report as readable text: totals, then one line per class."""
  lines = [
      f"examples: {report['count']}",
      f"loss (cross-entropy): {report['loss']:.4f}",
      f"top-1 accuracy: {100 * report['top1']:.2f}%"
      + _interval_text(report),
      f"top-5 accuracy (ties count as misses): {100 * report['top5']:.2f}%",
      "",
      f"{'id':>3}  {'accuracy':>8}  {'correct':>7}/{'count':<5}  sign",
  ]
  for c in report["per_class"]:
    acc = "-" if c["accuracy"] is None else f"{100 * c['accuracy']:.1f}%"
    lines.append(f"{c['id']:>3}  {acc:>8}  {c['correct']:>7}/{c['count']:<5}  "
                 f"{c['name']}")
  return "\n".join(lines)


def _interval_text(report):
  if "top1_interval" not in report:
    return ""
  low, high = report["top1_interval"]
  drawn = ("images" if report["tracks"] == report["count"] else
           f"tracks of {report['count']} images")
  return (f" (95% interval {100 * low:.2f}-{100 * high:.2f}%, "
          f"{report['tracks']} {drawn})")


def plot_confusion_matrix(confusion, class_names, path):
  """Writes the confusion matrix as a PNG (rows true, columns predicted).

  Each row is normalized to the class's count, so rare classes show as
  clearly as common ones.
  """
  # Imported here: the TFLite tools use the numbers without plotting.
  from alexnet.evaluation import plots  # pylint: disable=import-outside-toplevel
  plt = plots.plt

  confusion = np.asarray(confusion, dtype=np.float64)
  rows = confusion.sum(axis=1, keepdims=True)
  normalized = np.divide(confusion, rows, out=np.zeros_like(confusion),
                         where=rows > 0)
  n = len(class_names)
  size = max(6.0, 0.22 * n + 3)
  fig, ax = plt.subplots(figsize=(size, size))
  image = ax.imshow(normalized, cmap="Blues", vmin=0.0, vmax=1.0)
  labels = [f"{i} {name[:28]}" for i, name in enumerate(class_names)]
  ax.set_xticks(range(n))
  ax.set_yticks(range(n))
  ax.set_xticklabels(range(n), fontsize=6)
  ax.set_yticklabels(labels, fontsize=6)
  ax.set_xlabel("predicted class")
  ax.set_ylabel("true class")
  ax.set_title("Confusion matrix (fraction of each true class)")
  fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
  fig.tight_layout()
  plots.save_figure(fig, path)


def top1_agreement(probs_a, probs_b):
  """Fraction of examples on which two models predict the same class."""
  a = np.asarray(probs_a).argmax(axis=1)
  b = np.asarray(probs_b).argmax(axis=1)
  if a.shape != b.shape or a.size == 0:
    raise ValueError(f"cannot compare predictions of shapes {a.shape} and "
                     f"{b.shape}")
  return float((a == b).mean())
