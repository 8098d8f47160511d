"""The track-stratified K-fold split (tfrecord_writer.deal_folds and
build(folds=, fold=)) and its bad input."""

import collections
import json
import os

import pytest

from alexnet.core.config import PipelineConfig
from alexnet.core.errors import UserError
from alexnet.datasets import jpeg_folders
from alexnet.datasets import tfrecord_reader
from alexnet.datasets import tfrecord_writer
from tests.datasets.test_tfrecord import _records, converted  # noqa: F401


def _annotations(tracks_per_class, frames=3):
  """Annotations of classes 0.. with these track counts (no files)."""
  return [jpeg_folders.Annotation(f"{c}/{t}_{f}.jpg", "train", c, t, 30, 30,
                                  2, 2, 27, 27)
          for c, tracks in enumerate(tracks_per_class)
          for t in range(tracks) for f in range(frames)]


# Pedestrians-like classes: 8, 5 and 7 tracks; 23 in all.
TRACKS = (8, 5, 7, 3)


def test_each_track_is_validated_once_and_every_class_is_spread_evenly():
  annotations = _annotations(TRACKS)
  folds = 3
  fold_of = tfrecord_writer.deal_folds(annotations, folds, seed=4)
  assert set(fold_of) == {(a.class_id, a.track) for a in annotations}
  for class_id, tracks in enumerate(TRACKS):
    per_fold = collections.Counter(f for (c, _), f in fold_of.items()
                                   if c == class_id)
    assert sorted(per_fold) == list(range(folds))
    assert set(per_fold.values()) <= {tracks // folds, -(-tracks // folds)}
  # Each class's deal starts where the last stopped: the folds' totals are
  # as even as the classes' (23 tracks: 8, 8, 7).
  assert sorted(collections.Counter(fold_of.values()).values()) == [7, 8, 8]

  validated = []
  for fold in range(folds):
    splits = tfrecord_writer.split_by_fold(annotations, folds, fold, seed=4)
    assert len(splits["train"]) + len(splits["validation"]) == len(
        annotations)
    train_tracks = {(a.class_id, a.track) for a in splits["train"]}
    val_tracks = {(a.class_id, a.track) for a in splits["validation"]}
    assert not train_tracks & val_tracks
    assert {c for c, _ in val_tracks} == set(range(len(TRACKS)))
    validated += sorted(val_tracks)
  # Every track validated exactly once over the folds: they are disjoint.
  assert sorted(validated) == sorted(fold_of)


def test_the_deal_is_a_function_of_the_seed():
  annotations = _annotations(TRACKS)
  assert tfrecord_writer.deal_folds(annotations, 3, 1) == (
      tfrecord_writer.deal_folds(list(reversed(annotations)), 3, 1))
  assert tfrecord_writer.deal_folds(annotations, 3, 1) != (
      tfrecord_writer.deal_folds(annotations, 3, 2))


def test_fold_datasets_and_their_manifests(converted, tmp_path):
  source, pixels = converted  # 3 classes x 3 tracks x 2 frames
  seen = []
  for fold in range(3):
    out = str(tmp_path / f"fold{fold}")
    manifest = tfrecord_writer.build(source, out, num_shards=1, seed=5,
                                     folds=3, fold=fold)
    assert (manifest["folds"], manifest["fold"]) == (3, fold)
    assert "validation_fraction" not in manifest
    validation = _records(out, "validation")
    # One track of each of the 3 classes per fold.
    assert sorted(label for _, label, _ in validation) == [0, 0, 14, 14, 42,
                                                           42]
    assert not {t for *_, t in validation} & {
        t for *_, t in _records(out, "train")}
    seen += [name for name, _, _ in validation]
  assert len(seen) == len(set(seen)) == len(pixels)


def test_unset_folds_leave_the_old_split(converted, tmp_path):
  source, _ = converted
  old = str(tmp_path / "old")
  tfrecord_writer.build(source, old, num_shards=1, validation_fraction=0.3,
                        seed=7)
  new = str(tmp_path / "new")
  tfrecord_writer.build(source, new, num_shards=1, validation_fraction=0.3,
                        seed=7, folds=None, fold=None)
  for name in os.listdir(old):
    with open(os.path.join(old, name), "rb") as a, open(
        os.path.join(new, name), "rb") as b:
      if name == tfrecord_writer.MANIFEST:
        assert json.loads(a.read()) == json.loads(b.read())
      else:
        assert a.read() == b.read(), name


@pytest.mark.parametrize("folds,fold,words", [
    (3, 3, "--fold=3 is out of range: with --folds=3 it must be in [0, 2]"),
    (3, None, "--folds and --fold go together"),
    (None, 0, "--folds and --fold go together"),
])
def test_a_fold_outside_the_folds_is_refused(folds, fold, words):
  with pytest.raises(UserError, match=r"^" + words.replace("[", r"\[")
                     .replace("]", r"\]").replace("-", r"\-")):
    PipelineConfig(folds=folds, fold=fold)
  with pytest.raises(UserError, match="--fold"):
    tfrecord_writer.split_by_fold(_annotations(TRACKS), folds, fold, 0)


def test_more_folds_than_a_class_has_tracks_names_the_class():
  with pytest.raises(UserError) as error:
    tfrecord_writer.deal_folds(_annotations(TRACKS), 4, 0)
  message = str(error.value)
  assert "\n" not in message
  assert message.startswith("class 3_speed_limit_60km_h has only 3 track(s), "
                            "fewer than --folds=4")
  assert "--folds=3 or fewer" in message


def test_build_tool_takes_the_fold_flags(converted, tmp_path, tool):
  source, _ = converted
  out = tmp_path / "fold1"
  proc = tool("build_tfrecord", f"--input_dir={source}",
              f"--output_dir={out}", "--folds=3", "--fold=1",
              "--num_shards=1")
  assert "validation: 6 images, 3 tracks" in proc.stdout
  assert tfrecord_reader.read_manifest(str(out))["fold"] == 1
  bad = tool("build_tfrecord", f"--input_dir={source}",
             f"--output_dir={tmp_path / 'bad'}", "--folds=4", "--fold=0",
             check=False)
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1].startswith(
      "error: class 0_speed_limit_20km_h has only 3 track(s)")
  assert not (tmp_path / "bad").exists()
