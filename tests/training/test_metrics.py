"""metrics: the report's numbers on a hand-checked example, its text, plots."""

import math

import numpy as np
import pytest

from alexnet.evaluation import metrics

NAMES = ["Stop", "Yield", "Priority road", "No entry", "Keep right",
         "Keep left"]


def _example():
  # Four examples over six classes; class 0 true for the first two.
  probabilities = np.full([4, 6], 0.02)
  probabilities[0, 0] = 0.90  # right
  probabilities[1, 1] = 0.90  # wrong (true 0): predicted 1, true 0 ranks 2nd
  probabilities[1, 0] = 0.05
  probabilities[2, 2] = 0.90  # right
  probabilities[3, :] = [0.30, 0.25, 0.20, 0.15, 0.06, 0.04]  # true 5: 6th
  probabilities /= probabilities.sum(axis=1, keepdims=True)
  labels = np.array([0, 0, 2, 5])
  return labels, probabilities


def test_classification_report():
  labels, probabilities = _example()
  report = metrics.classification_report(labels, probabilities, NAMES)
  assert report["count"] == 4
  assert report["top1"] == pytest.approx(2 / 4)
  assert report["top5"] == pytest.approx(3 / 4)  # only the last misses top 5
  expected_loss = -np.mean([math.log(probabilities[i, y])
                            for i, y in enumerate(labels)])
  assert report["loss"] == pytest.approx(expected_loss)
  stop = report["per_class"][0]
  assert stop == {"id": 0, "name": "Stop", "count": 2, "correct": 1,
                  "accuracy": 0.5}
  assert report["per_class"][3]["accuracy"] is None  # No examples.
  confusion = np.array(report["confusion"])
  assert confusion[0, 0] == 1 and confusion[0, 1] == 1
  assert confusion[5, 0] == 1 and confusion.sum() == 4
  assert np.trace(confusion) == 2


def test_format_report_lists_every_class_with_its_name():
  labels, probabilities = _example()
  text = metrics.format_report(
      metrics.classification_report(labels, probabilities, NAMES))
  assert "top-1 accuracy: 50.00%" in text
  assert "top-5 accuracy (ties count as misses): 75.00%" in text
  for name in NAMES:
    assert name in text
  stop_line = next(line for line in text.splitlines() if line.endswith("Stop"))
  assert "50.0%" in stop_line and "1/2" in stop_line


def test_top5_counts_ties_against_the_label():
  # Every class alike: no class is ranked, so nothing is in the top 5.
  uniform = np.full([3, 6], 1 / 6)
  report = metrics.classification_report([0, 3, 5], uniform, NAMES)
  assert report["top5"] == 0.0
  # The label tied with the 5th-highest class: a miss; one step above it
  # (or ties only below it): a hit.
  tied = np.array([[0.4, 0.2, 0.1, 0.1, 0.1, 0.1],
                   [0.4, 0.2, 0.1, 0.1, 0.1, 0.1]])
  assert metrics.top_k_rank(tied, [5, 1]).tolist() == [5, 1]
  report = metrics.classification_report([5, 1], tied, NAMES)
  assert report["top5"] == pytest.approx(1 / 2)
  # int8-like outputs: the label at 0 with most classes also at 0 misses.
  quantized = np.zeros([1, 6])
  quantized[0, 0] = 1.0
  assert metrics.classification_report([4], quantized, NAMES)["top5"] == 0.0


def test_bad_shapes_are_refused():
  with pytest.raises(ValueError, match="no examples"):
    metrics.classification_report([], np.zeros([0, 6]), NAMES)
  with pytest.raises(ValueError, match="expected"):
    metrics.classification_report([0], np.zeros([1, 5]), NAMES)


def test_confusion_matrix_png(tmp_path):
  labels, probabilities = _example()
  report = metrics.classification_report(labels, probabilities, NAMES)
  path = tmp_path / "confusion.png"
  metrics.plot_confusion_matrix(report["confusion"], NAMES, str(path))
  assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
  assert [p.name for p in tmp_path.iterdir()] == ["confusion.png"]


def test_top1_agreement():
  _, a = _example()
  b = a.copy()
  b[3] = b[3][::-1]  # Now predicts class 5 for the last example.
  assert metrics.top1_agreement(a, a) == 1.0
  assert metrics.top1_agreement(a, b) == pytest.approx(3 / 4)


def _wilson(p, n, z=1.96):
  centre = (p + z * z / (2 * n)) / (1 + z * z / n)
  half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
  return centre - half, centre + half


def test_top1_interval_of_independent_images_is_wilsons():
  correct = np.arange(1000) % 50 != 0  # 98%
  low, high = metrics.top1_interval(correct)
  # The cluster-robust variance of 1000 one-image tracks: n - 1 draws.
  assert (low, high) == pytest.approx(_wilson(0.98, 999), abs=1e-9)


def test_top1_interval_widens_when_the_errors_share_tracks():
  tracks = np.repeat(np.arange(100), 30)
  spread = np.ones(3000, bool)
  spread[::50] = False            # 60 errors, one in every other track
  clustered = np.ones(3000, bool)
  clustered[:60] = False          # the same 60 errors in two tracks
  assert spread.mean() == clustered.mean()
  spread_low, spread_high = metrics.top1_interval(spread, tracks)
  low, high = metrics.top1_interval(clustered, tracks)
  assert high - low > 3 * (spread_high - spread_low)
  assert low < 0.98 < high


def test_top1_interval_without_errors_counts_each_track_once():
  low, high = metrics.top1_interval(np.ones(600, bool),
                                    np.repeat(np.arange(20), 30))
  assert high == 1.0
  assert low == pytest.approx(20 / (20 + 1.96 ** 2))


def test_top1_interval_covers_the_truth_by_track_and_not_by_image():
  """Tracks of 30 frames whose accuracy varies from track to track, as
  GTSRB's do: the interval by track holds the accuracy on new tracks (what
  a test set measures) about 95% of the time; one that takes the images as
  independent, far less often."""
  rng = np.random.RandomState(0)
  tracks = np.repeat(np.arange(200), 30)
  by_track = by_image = 0
  runs = 300
  # Nine tracks in ten are read right nearly always, one in ten often wrong.
  truth = 0.9 * 0.995 + 0.1 * 0.6
  for _ in range(runs):
    track_accuracy = np.where(rng.rand(200) < 0.1, rng.uniform(0.3, 0.9, 200),
                              0.995)
    correct = rng.rand(6000) < track_accuracy[tracks]
    low, high = metrics.top1_interval(correct, tracks)
    by_track += low <= truth <= high
    low, high = metrics.top1_interval(correct)
    by_image += low <= truth <= high
  assert 0.90 <= by_track / runs <= 0.99
  assert by_image / runs < 0.8


def test_paired_difference_of_the_same_predictions_is_nothing():
  correct = np.arange(600) % 7 != 0
  tracks = np.repeat(np.arange(20), 30)
  assert metrics.paired_difference(correct, correct, tracks) == (0, 0, 0)
  with pytest.raises(ValueError, match="not the same images"):
    metrics.paired_difference(correct, correct[1:], tracks)


def test_paired_difference_covers_the_truth_and_is_narrower_than_apart():
  """Two recipes on the same tracks, the second fixing part of the first's
  errors on the hard tracks: the paired interval holds the true gain about
  95% of the time, and is much narrower than either run's own interval
  (which cannot tell them apart)."""
  rng = np.random.RandomState(1)
  tracks = np.repeat(np.arange(200), 30)
  gain = 0.1 * 0.05  # a tenth of the tracks, 5 points each
  covered = 0
  runs = 300
  for _ in range(runs):
    hard = rng.rand(200) < 0.1
    accuracy_a = np.where(hard, rng.uniform(0.3, 0.9, 200), 0.995)
    accuracy_b = np.where(hard, accuracy_a + 0.05, accuracy_a)
    # The same draw per image: b is right wherever a is.
    draw = rng.rand(6000)
    a, b = draw < accuracy_a[tracks], draw < accuracy_b[tracks]
    difference, low, high = metrics.paired_difference(a, b, tracks)
    assert difference == pytest.approx(b.mean() - a.mean())
    covered += low <= gain <= high
  assert 0.90 <= covered / runs <= 0.99
  apart_low, apart_high = metrics.top1_interval(a, tracks)
  assert high - low < (apart_high - apart_low) / 3


@pytest.mark.parametrize("size", [2, 3, 5, 40])
def test_mean_interval_covers_the_mean_95_percent_of_the_time(size):
  """Few values, as folds give: the t interval holds the true mean about
  95% of the time, where the normal's 1.96 would hold it far less often
  for 2 or 3 values."""
  rng = np.random.RandomState(size)
  runs = 2000
  covered = normal = 0
  for _ in range(runs):
    values = rng.normal(0.3, 2.0, size)
    mean, low, high = metrics.mean_interval(values)
    assert mean == pytest.approx(values.mean())
    covered += low <= 0.3 <= high
    half = 1.96 * values.std(ddof=1) / math.sqrt(size)
    normal += abs(values.mean() - 0.3) <= half
  assert 0.93 <= covered / runs <= 0.97
  if size <= 3:
    assert normal / runs < 0.9


def test_mean_interval_needs_two_values():
  assert metrics.mean_interval([0.5, 0.5]) == (0.5, 0.5, 0.5)
  with pytest.raises(ValueError, match="needs 2, got 1"):
    metrics.mean_interval([0.5])


def test_report_gives_the_interval_and_its_tracks():
  labels = np.array([0, 0, 1, 1, 1, 0])
  probabilities = np.eye(2)[[0, 1, 1, 1, 1, 0]]
  report = metrics.classification_report(labels, probabilities, ["a", "b"],
                                         tracks=[5, 5, 7, 7, -1, -1])
  assert report["tracks"] == 4
  low, high = report["top1_interval"]
  assert low < report["top1"] < high
  assert "95% interval" in metrics.format_report(report)
  assert "4 tracks of 6 images" in metrics.format_report(report)
  with pytest.raises(ValueError, match="2 track ids for 6 labels"):
    metrics.classification_report(labels, probabilities, ["a", "b"], [1, 2])
