"""Analyses only the benchmarks use: errors by track, committees of models,
latency of models timed in alternation, the layers of a frozen AlexNet."""

import itertools
import time

import numpy as np

from alexnet.lite import interpreter


def errors_by_track(labels, predictions, tracks):
  """Misread images grouped by (true class, track, predicted class).

  GTSRB's images come in tracks of one physical sign, so errors cluster: a
  whole track misread the same way is one sign the model gets wrong.

  Args:
    labels, predictions, tracks: int arrays [N] (tracks: track ids).

  Returns:
    [{label, track, track_count, predicted, count}], most errors first.
  """
  labels, predictions, tracks = (np.asarray(a, dtype=np.int64)
                                 for a in (labels, predictions, tracks))
  track_ids, track_counts = np.unique(tracks, return_counts=True)
  sizes = dict(zip(track_ids.tolist(), track_counts.tolist()))
  wrong = labels != predictions
  keys, counts = np.unique(
      np.stack([labels[wrong], tracks[wrong], predictions[wrong]], axis=1),
      axis=0, return_counts=True)
  rows = [{"label": label, "track": track, "track_count": sizes[track],
           "predicted": predicted, "count": count}
          for (label, track, predicted), count in zip(keys.tolist(),
                                                      counts.tolist())]
  return sorted(rows, key=lambda r: (-r["count"], r["label"], r["track"]))


def committees(labels, probabilities, min_size=2):
  """Top-1 of every committee of models that averages their probabilities.

  Averaging independently trained models (Ciresan et al. 2012, "Multi-column
  deep neural network for traffic sign classification") corrects the errors
  they do not share; this measures how many that is.

  Args:
    labels: int class ids [N].
    probabilities: {name: [N, C] probabilities}, one entry per model.
    min_size: smallest committee listed.

  Returns:
    [{members (names, in the dict's order), top1, errors}], by size then by
    the order of the names.
  """
  labels = np.asarray(labels)
  names = list(probabilities)
  rows = []
  for size in range(min_size, len(names) + 1):
    for members in itertools.combinations(names, size):
      mean = np.mean([probabilities[n] for n in members], axis=0)
      errors = int((mean.argmax(axis=1) != labels).sum())
      rows.append({"members": members, "top1": 1 - errors / len(labels),
                   "errors": errors})
  return rows


def measure_paired_latency(model_contents, image, num_threads, runs=50,
                           warmup=5, xnnpack=True):
  """Latency stats of several models timed in alternation, run by run.

  On a shared machine the load changes over seconds; alternating puts every
  model under the same load, so their ratio is fair even when the absolute
  times are not.
  """
  interpreters = [interpreter.ready(c, image, num_threads, xnnpack)
                  for c in model_contents]
  times = [[] for _ in interpreters]
  for i in range(warmup + runs):
    for model, own in zip(interpreters, times):
      start = time.perf_counter()
      model.invoke()
      if i >= warmup:
        own.append(time.perf_counter() - start)
  return [interpreter.latency_stats(t) for t in times]


def layer_outputs(graph_def, scope="alexnet"):
  """{layer: node name of its last op} for the nodes `scope/<layer>[/...]`,
  in graph order (constants and identities left out); `scope` defaults to
  alexnet.nets.alexnet's."""
  last = {}
  for node in graph_def.node:
    parts = node.name.split("/")
    if (parts[0] == scope and len(parts) > 1 and
        node.op not in ("Const", "Identity")):
      last[parts[1]] = node.name  # dicts keep first-insertion order
  return last
