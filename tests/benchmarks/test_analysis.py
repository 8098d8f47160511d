"""benchmarks/analysis.py: errors by track and committees of models."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "benchmarks"))
import analysis  # pylint: disable=wrong-import-position


def test_errors_by_track_groups_and_orders_the_misreads():
  labels = [3, 3, 3, 3, 5, 5, 0]
  tracks = [30019, 30019, 30019, 30002, 50001, 50001, 7]
  predictions = [5, 5, 3, 5, 3, 2, 0]
  rows = analysis.errors_by_track(labels, predictions, tracks)
  assert rows == [
      {"label": 3, "track": 30019, "track_count": 3, "predicted": 5,
       "count": 2},
      {"label": 3, "track": 30002, "track_count": 1, "predicted": 5,
       "count": 1},
      {"label": 5, "track": 50001, "track_count": 2, "predicted": 2,
       "count": 1},
      {"label": 5, "track": 50001, "track_count": 2, "predicted": 3,
       "count": 1}]
  assert analysis.errors_by_track(labels, labels, tracks) == []


def test_committees_average_the_members_probabilities():
  labels = np.array([0, 1, 2])
  # a and b each miss one image narrowly, one the other gets right;
  # c is wrong on all three.
  a = np.array([[0.6, 0.4, 0.0], [0.0, 0.45, 0.55], [0.0, 0.0, 1.0]])
  b = np.array([[0.45, 0.55, 0.0], [0.0, 0.9, 0.1], [0.1, 0.0, 0.9]])
  c = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.9, 0.1]])
  rows = analysis.committees(labels, {"a": a, "b": b, "c": c})
  assert [(r["members"], r["errors"]) for r in rows] == [
      (("a", "b"), 0), (("a", "c"), 2), (("b", "c"), 2), (("a", "b", "c"), 1)]
  assert rows[0]["top1"] == 1.0
  assert rows[-1]["top1"] == pytest.approx(2 / 3)
  singles = analysis.committees(labels, {"a": a, "b": b}, min_size=1)
  assert [(r["members"], r["errors"]) for r in singles][:2] == [
      (("a",), 1), (("b",), 1)]
