"""Writes a converted GTSRB directory as sharded TFRecords plus a manifest.

Each record is a tf.train.Example with the FEATURE_* keys below; the JPEG
bytes are those tools/convert_dataset.py wrote (no second lossy encoding).
Training images are split into train and validation BY TRACK, stratified by
class: the ~30 near-identical frames of one physical sign all land in the same
split, and every class with two or more tracks appears in both. The split is
a pure function of the annotations and the seed.
Or, for K-fold cross-validation, each class's tracks are dealt across K folds
(`deal_folds`) and one fold is the validation split: the K datasets of
fold 0..K-1 validate every track exactly once.

A converted final-test directory becomes a `test` split; it may be added to
an existing dataset directory that already holds train/validation.
"""

import json
import os
import random

import tensorflow as tf
from tqdm import tqdm

from alexnet.datasets import image_files
from alexnet.datasets import jpeg_folders
from alexnet.datasets import signnames
from alexnet.core import config
from alexnet.core.errors import UserError
from alexnet.core.atomic_files import atomic_dir, atomic_path, atomic_write

FEATURE_ENCODED = "image/encoded"
FEATURE_FORMAT = "image/format"
FEATURE_LABEL = "image/class/label"
FEATURE_TEXT = "image/class/text"
FEATURE_HEIGHT = "image/height"
FEATURE_WIDTH = "image/width"
FEATURE_FILENAME = "image/filename"
FEATURE_TRACK = "image/track_id"
FEATURE_ROI = ("image/roi/x1", "image/roi/y1", "image/roi/x2", "image/roi/y2")

MANIFEST = "manifest.json"
SPLITS = ("train", "validation", "test")

# GTSRB numbers tracks per class; image/track_id = class * stride + TTTTT is
# unique across classes. Test images have no track: -1.
TRACK_ID_STRIDE = 100000


def shard_name(split, index, num_shards):
  return f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord"


def track_id(annotation):
  if annotation.track < 0:
    return -1
  return annotation.class_id * TRACK_ID_STRIDE + annotation.track


def split_by_track(annotations, validation_fraction, seed):
  """{'train': [...], 'validation': [...]}: whole tracks, every class in both.

  Per class, the sorted track ids are shuffled with a Random(seed) and the
  first round(fraction * tracks) (at least one, at most all but one) go to
  validation.
  """
  if not 0 <= validation_fraction < 1:
    raise UserError(f"validation fraction {validation_fraction} is outside "
                    "[0, 1); pass e.g. --validation_fraction=0.1")
  tracks = {}
  for a in annotations:
    tracks.setdefault(a.class_id, set()).add(a.track)
  rng = random.Random(seed)
  validation = set()
  for class_id in sorted(tracks):
    ids = sorted(tracks[class_id])
    if validation_fraction == 0:
      continue
    if len(ids) < 2:
      raise UserError(
          f"class {signnames.folder_name(class_id)} has only one track, so it "
          "cannot be in both train and validation; add images of another "
          "track or pass --validation_fraction=0")
    rng.shuffle(ids)
    n = min(max(1, round(validation_fraction * len(ids))), len(ids) - 1)
    validation.update((class_id, t) for t in ids[:n])
  splits = {"train": [], "validation": []}
  for a in annotations:
    key = "validation" if (a.class_id, a.track) in validation else "train"
    splits[key].append(a)
  if not splits["validation"]:
    del splits["validation"]
  return splits


def deal_folds(annotations, folds, seed):
  """{(class_id, track): fold}: each class's tracks dealt across `folds`.

  Per class (in id order), the sorted track ids are shuffled with one
  Random(seed) and dealt round robin, so each fold gets floor or ceil of
  tracks / folds of every class; each class's deal starts where the last
  one stopped, which evens out the folds' totals too. UserError naming the
  first class with fewer tracks than folds.
  """
  tracks = {}
  for a in annotations:
    tracks.setdefault(a.class_id, set()).add(a.track)
  rng = random.Random(seed)
  fold_of, dealt = {}, 0
  for class_id in sorted(tracks):
    ids = sorted(tracks[class_id])
    if len(ids) < folds:
      raise UserError(
          f"class {signnames.folder_name(class_id)} has only {len(ids)} "
          f"track(s), fewer than --folds={folds}, so some fold would not "
          f"validate it: pass --folds={len(ids)} or fewer" if len(ids) > 1
          else f"class {signnames.folder_name(class_id)} has only one track, "
          "so no fold split can train and validate it: add images of "
          "another track")
    rng.shuffle(ids)
    for i, t in enumerate(ids):
      fold_of[(class_id, t)] = (dealt + i) % folds
    dealt += len(ids)
  return fold_of


def split_by_fold(annotations, folds, fold, seed):
  """{'train': [...], 'validation': [...]}: fold `fold` of deal_folds
  validates, the other folds train."""
  config.check_fold(folds, fold)
  fold_of = deal_folds(annotations, folds, seed)
  splits = {"train": [], "validation": []}
  for a in annotations:
    key = ("validation" if fold_of[(a.class_id, a.track)] == fold
           else "train")
    splits[key].append(a)
  return splits


def _read_jpeg(converted_dir, annotation):
  path = os.path.join(converted_dir, annotation.file)
  advice = "run tools/convert_dataset.py again"
  try:
    with open(path, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    raise UserError(f"{path} is listed in {jpeg_folders.ANNOTATIONS_CSV} but "
                    f"missing; {advice}") from None
  # Start and end markers: catches truncated or foreign files cheaply.
  if not (data.startswith(b"\xff\xd8") and data.rstrip(b"\0").endswith(
      b"\xff\xd9")):
    raise UserError(f"{path} is not a complete JPEG; {advice}")
  image_files.check_decodes(data, path)
  return data


def _int64(*values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _bytes(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def make_example(jpeg, annotation):
  """The tf.train.Example of one converted image."""
  feature = {
      FEATURE_ENCODED: _bytes(jpeg),
      FEATURE_FORMAT: _bytes(b"jpeg"),
      FEATURE_LABEL: _int64(annotation.class_id),
      FEATURE_TEXT: _bytes(
          signnames.SIGN_NAMES[annotation.class_id].encode()),
      FEATURE_HEIGHT: _int64(annotation.height),
      FEATURE_WIDTH: _int64(annotation.width),
      FEATURE_FILENAME: _bytes(annotation.file.encode()),
      FEATURE_TRACK: _int64(track_id(annotation)),
  }
  roi = (annotation.roi_x1, annotation.roi_y1, annotation.roi_x2,
         annotation.roi_y2)
  for key, value in zip(FEATURE_ROI, roi):
    feature[key] = _int64(value)
  return tf.train.Example(features=tf.train.Features(feature=feature))


def write_split(converted_dir, output_dir, split, annotations, num_shards,
                seed):
  """Writes one split's shards (records shuffled across them); its manifest entry."""
  annotations = sorted(annotations, key=lambda a: a.file)
  random.Random(seed).shuffle(annotations)  # Mix classes within each shard.
  num_shards = max(1, min(num_shards, len(annotations)))
  shards = [shard_name(split, i, num_shards) for i in range(num_shards)]
  with tqdm(total=len(annotations), desc=f"write {split}", unit="img") as bar:
    for i, shard in enumerate(shards):
      with atomic_path(os.path.join(output_dir, shard)) as tmp:
        with tf.io.TFRecordWriter(tmp) as writer:
          for a in annotations[i::num_shards]:
            writer.write(make_example(_read_jpeg(converted_dir, a),
                                      a).SerializeToString())
            bar.update()
  per_class = [0] * signnames.NUM_CLASSES
  for a in annotations:
    per_class[a.class_id] += 1
  return {
      "count": len(annotations),
      "per_class": per_class,
      "num_tracks": len({track_id(a) for a in annotations} - {-1}),
      "shards": shards,
  }


def image_size_stats(annotations):
  widths = [a.width for a in annotations]
  heights = [a.height for a in annotations]
  return {
      "min_width": min(widths), "max_width": max(widths),
      "mean_width": sum(widths) / len(widths),
      "min_height": min(heights), "max_height": max(heights),
      "mean_height": sum(heights) / len(heights),
  }


def _write_manifest(output_dir, manifest):
  atomic_write(os.path.join(output_dir, MANIFEST),
               json.dumps(manifest, indent=2) + "\n")


def _existing_manifest(output_dir):
  """The manifest of an existing dataset dir, None if absent or empty dir."""
  path = os.path.join(output_dir, MANIFEST)
  if not os.path.isdir(output_dir) or not os.listdir(output_dir):
    return None
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    return None
  except (ValueError, UnicodeDecodeError):
    raise UserError(f"{path} is corrupt; rebuild the dataset with "
                    "tools/build_tfrecord.py --overwrite") from None


def _add_test_split(converted_dir, output_dir, annotations, manifest,
                    num_shards, seed, overwrite):
  """Adds (or with overwrite replaces) the test split of a dataset dir."""
  if "test" in manifest.get("splits", {}) and not overwrite:
    raise UserError(f"{output_dir} already has a test split: pass --overwrite "
                    "to replace it")
  old = set(manifest.get("splits", {}).get("test", {}).get("shards", []))
  entry = write_split(converted_dir, output_dir, "test", annotations,
                      num_shards, seed)
  entry["source"] = os.path.abspath(converted_dir)
  entry["image_size_stats"] = image_size_stats(annotations)
  manifest.setdefault("splits", {})["test"] = entry
  _write_manifest(output_dir, manifest)  # The commit point.
  for shard in old - set(entry["shards"]):
    os.remove(os.path.join(output_dir, shard))
  return manifest


def build(converted_dir, output_dir, num_shards=4, validation_fraction=0.1,
          seed=0, overwrite=False, folds=None, fold=None):
  """Writes TFRecord shards and manifest.json for a converted directory.

  A training conversion makes a new dataset dir (train + validation); a test
  conversion makes a test-only one, or adds `test` to an existing dataset.
  With `folds` (and `fold`) the validation split is fold `fold` of
  split_by_fold in place of split_by_track's `validation_fraction`.

  Returns:
    The manifest dict.
  """
  if num_shards < 1:
    raise UserError(f"--num_shards={num_shards}: need at least 1")
  config.check_fold(folds, fold)
  annotations = jpeg_folders.read_annotations(converted_dir)
  kinds = {a.split for a in annotations}
  if kinds == {"test"}:
    existing = _existing_manifest(output_dir)
    if existing is not None and not (overwrite and set(
        existing.get("splits", {})) <= {"test"}):
      return _add_test_split(converted_dir, output_dir, annotations, existing,
                             num_shards, seed, overwrite)
    splits = {"test": annotations}
  elif kinds == {"train"} and folds is not None:
    splits = split_by_fold(annotations, folds, fold, seed)
  elif kinds == {"train"}:
    splits = split_by_track(annotations, validation_fraction, seed)
  else:
    raise UserError(f"{converted_dir} mixes training and test images; convert "
                    "them into separate directories")
  with atomic_dir(output_dir, overwrite=overwrite) as tmp:
    manifest = {
        "num_classes": signnames.NUM_CLASSES,
        "class_names": list(signnames.SIGN_NAMES),
        "splits": {name: write_split(converted_dir, tmp, name, splits[name],
                                     num_shards, seed)
                   for name in SPLITS if name in splits},
        "image_size_stats": image_size_stats(annotations),
        "source": os.path.abspath(converted_dir),
        "seed": seed,
        **({"validation_fraction": validation_fraction} if folds is None
           else {"folds": folds, "fold": fold}),
    }
    _write_manifest(tmp, manifest)
  return manifest
