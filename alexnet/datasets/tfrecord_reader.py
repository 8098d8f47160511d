"""Reads the TFRecord datasets written by tools/build_tfrecord.py.

`make_dataset` is the one input pipeline of training, evaluation and
conversion: parallel parse and JPEG decode, optional ROI crop, resize (with
augmentation when asked), shuffle when training, batch, prefetch. It builds
only tf.data ops, so it works eagerly and inside a tf.compat.v1 graph
(make_one_shot_iterator / make_initializable_iterator).

Read more than once (training), a split whose decoded images fit in
CACHE_LIMIT_BYTES is parsed, decoded and ROI-cropped once, in the first
epoch, and held in memory; each epoch then shuffles all of it and only
resizes and augments. The resize stays per epoch: it is the augmentation's
own sampling pass, and its float32 output at the input size is many times
the decoded image (12x for 32x32 sources at 99x99).

`class_weights` (the manifest's per-class counts) weight the loss or, with
make_dataset's balance_classes, decide which images a training read keeps.
"""

import contextlib
import json
import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from alexnet.core.errors import UserError, first_line
from alexnet.datasets import preprocessing
from alexnet.datasets import signnames
from alexnet.datasets import tfrecord_writer as tw

_FEATURES = {
    tw.FEATURE_ENCODED: tf.io.FixedLenFeature([], tf.string),
    tw.FEATURE_LABEL: tf.io.FixedLenFeature([], tf.int64),
    **{key: tf.io.FixedLenFeature([], tf.int64) for key in tw.FEATURE_ROI},
    tw.FEATURE_TRACK: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
}

_BUILD_ADVICE = "run tools/build_tfrecord.py to make it"


def read_manifest(data_dir):
  """The dataset's manifest.json as a dict; UserError if missing or corrupt."""
  path = os.path.join(data_dir, tw.MANIFEST)
  try:
    with open(path) as f:
      manifest = json.load(f)
  except FileNotFoundError:
    raise UserError(f"{data_dir} has no {tw.MANIFEST}: it is not a TFRecord "
                    f"dataset; {_BUILD_ADVICE}") from None
  except (ValueError, UnicodeDecodeError):
    raise UserError(f"{path} is corrupt; {_BUILD_ADVICE}") from None
  if not isinstance(manifest, dict) or not isinstance(
      manifest.get("splits"), dict) or "num_classes" not in manifest:
    raise UserError(f"{path} lacks num_classes or splits; {_BUILD_ADVICE}")
  return manifest


def shard_paths(data_dir, split, manifest=None):
  """Paths of one split's shards; UserError if the split or a shard is missing."""
  manifest = manifest or read_manifest(data_dir)
  splits = manifest["splits"]
  if split not in splits:
    raise UserError(f"{data_dir} has no {split!r} split (it has "
                    f"{', '.join(sorted(splits)) or 'none'}); for 'test', "
                    "convert the GTSRB test set and run tools/build_tfrecord.py "
                    "on it with this --output_dir")
  paths = [os.path.join(data_dir, s) for s in splits[split]["shards"]]
  for path in paths:
    if not os.path.isfile(path):
      raise UserError(f"{path} is listed in {tw.MANIFEST} but missing; "
                      "rebuild with tools/build_tfrecord.py --overwrite")
  return paths


def find_corrupt_shard(data_dir, splits):
  """(path, error) of the first shard of `splits` whose records fail their
  checksums or end early, or None. Reads every record: only called once
  reading has failed."""
  manifest = read_manifest(data_dir)
  for split in splits:
    if split not in manifest["splits"]:
      continue
    for path in shard_paths(data_dir, split, manifest):
      try:
        for _ in tf.compat.v1.io.tf_record_iterator(path):
          pass
      except tf.errors.OpError as e:
        return path, e
  return None


@contextlib.contextmanager
def reading(data_dir, *splits):
  """Turns TensorFlow's DataLossError, raised by whatever reads the splits'
  shards in the block, into a UserError naming the corrupt shard."""
  try:
    yield
  except tf.errors.DataLossError as e:
    found = find_corrupt_shard(data_dir, splits)
    path, error = found if found else (data_dir, e)
    raise UserError(f"{path} is corrupt or truncated ({first_line(error)}): "
                    "rebuild the dataset with tools/build_tfrecord.py "
                    "--overwrite") from None


def split_count(manifest, split):
  """Images in a split of the manifest (0 if it has no such split)."""
  return manifest["splits"].get(split, {}).get("count", 0)


def class_weights(data_dir, split, manifest=None):
  """float64 [num_classes]: the inverse of each class's share of the split's
  images (the manifest's per_class counts), normalized to mean 1 over those
  images (so weighting keeps the loss's scale); 0 for a class it lacks.
  UserError if the manifest has no per-class counts of the split."""
  manifest = manifest or read_manifest(data_dir)
  counts = manifest["splits"].get(split, {}).get("per_class")
  if not isinstance(counts, list) or len(counts) != manifest["num_classes"]:
    raise UserError(f"{os.path.join(data_dir, tw.MANIFEST)} has no per-class "
                    f"counts of the {split!r} split: rebuild the dataset with "
                    "tools/build_tfrecord.py --overwrite")
  counts = np.asarray(counts, np.float64)
  present = counts > 0
  return np.where(present, counts.sum() / (present.sum() *
                                           np.maximum(counts, 1)), 0.0)


def class_names(manifest):
  """The dataset's class names (GTSRB's sign names by default)."""
  return signnames.class_names(manifest["num_classes"],
                               manifest.get("class_names"))


def check_split(data_dir, split, num_classes=None):
  """The manifest; UserError unless `split` and all its shards exist and, if
  given, the dataset has the model's `num_classes`."""
  manifest = read_manifest(data_dir)
  shard_paths(data_dir, split, manifest)
  if num_classes is not None and manifest["num_classes"] != num_classes:
    raise UserError(f"{data_dir} has {manifest['num_classes']} classes but the "
                    f"model outputs {num_classes}: use the dataset the model was "
                    "trained on")
  return manifest


def _decode(features, crop_roi):
  """uint8 [H, W, 3], cropped to the ROI (inclusive corners) if asked."""
  encoded = features[tw.FEATURE_ENCODED]
  if not crop_roi:
    return tf.io.decode_jpeg(encoded, channels=3)
  x1, y1, x2, y2 = (tf.cast(features[k], tf.int32) for k in tw.FEATURE_ROI)
  # Decoding only the window is cheaper than decoding and then cropping.
  return tf.image.decode_and_crop_jpeg(
      encoded, tf.stack([y1, x1, y2 - y1 + 1, x2 - x1 + 1]), channels=3)


# Decoded images held in memory at most (the shared 32x32 GTSRB training
# split is 96 MB decoded; a full-size one about 0.3 GB).
CACHE_LIMIT_BYTES = 2 << 30


def decoded_bytes(manifest, split):
  """Estimated bytes of a split's images decoded (uint8 RGB, before any ROI
  crop) from the manifest's image sizes, or None if it has none."""
  stats = manifest.get("image_size_stats")
  if not stats:
    return None
  return round(split_count(manifest, split) * stats["mean_width"] *
               stats["mean_height"] * 3)


# Added to make_dataset's seed for the class-balanced draws: a random stream
# apart from the augmentations' (preprocessing's op seeds, seed + 0..17).
_SAMPLING_SEED_OFFSET = 1000


def make_dataset(data_dir, split, image_size, batch_size, is_training=False,
                 augment=False, augment_color=False, crop_roi=False,
                 num_epochs=1, seed=None,
                 drop_remainder=False, shuffle_buffer=10000, with_tracks=False,
                 shard=None, cache=None, augment_extra=(),
                 balance_classes=False, tta_views=0):
  """A tf.data.Dataset of (images, labels) batches from one split.

  Args:
    data_dir: a directory written by tools/build_tfrecord.py.
    split: 'train', 'validation' or 'test'.
    image_size: output side S.
    batch_size: images per batch B.
    is_training: shuffle shards and records (reshuffled every epoch).
    augment: random rotation/scale/translation/brightness/contrast.
    augment_color: with augment, also random gamma and saturation.
    crop_roi: crop each image to its sign's ROI before resizing.
    num_epochs: passes over the data; None repeats forever.
    seed: makes shuffling and augmentation repeatable.
    drop_remainder: drop a last batch smaller than B.
    shuffle_buffer: records in the shuffle buffer (uncached; a cached split
      is shuffled whole).
    with_tracks: also yield each image's track id (tfrecord_writer.track_id;
      -1 for test images).
    shard: (index, count): read only worker `index` of `count`'s part, every
      count-th shard file (`worker_shards`), or with fewer files than
      workers every count-th record of each file.
    cache: hold the decoded (and cropped) images in memory after the first
      pass; None: when read more than once (or balance_classes) and
      decoded_bytes is within CACHE_LIMIT_BYTES.
    augment_extra: any of preprocessing.EXTRA_AUGMENTATIONS.
    balance_classes: draw images with equal probability for every class
      (class_weights), num_epochs times the split's image count in all.
    tta_views: with V > 0, each image as preprocessing.views' first V
      test-time views, [B, V, S, S, 3] (evaluation; no augmentation).

  Returns:
    Dataset of (float32 [B, S, S, 3] raw RGB in 0..255, int64 [B] labels),
    plus int64 [B] track ids with_tracks.
  """
  manifest = read_manifest(data_dir)
  files = shard_paths(data_dir, split, manifest)
  if cache is None:
    size = decoded_bytes(manifest, split)
    cache = ((num_epochs != 1 or balance_classes) and size is not None
             and size <= CACHE_LIMIT_BYTES)
  read = tf.data.TFRecordDataset
  if shard is not None:
    index, count = shard
    part = worker_shards(files, index, count)
    if part is None:
      # In each file's fixed order, so the workers' records are disjoint.
      read = lambda path: tf.data.TFRecordDataset(path).shard(count, index)
    else:
      files = part
  # Cached: the first pass fixes the order the cache holds, so it is kept
  # repeatable; the shuffle of the whole cached split comes after.
  shuffled = is_training and not cache
  dataset = tf.data.Dataset.from_tensor_slices(files)
  if shuffled:
    dataset = dataset.shuffle(len(files), seed=seed,
                              reshuffle_each_iteration=True)
  dataset = dataset.interleave(
      read, cycle_length=min(len(files), 4),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffled)
  if shuffled:
    dataset = dataset.shuffle(shuffle_buffer, seed=seed,
                              reshuffle_each_iteration=True)

  def decode(serialized):
    features = tf.io.parse_single_example(serialized, _FEATURES)
    return (_decode(features, crop_roi), features[tw.FEATURE_LABEL],
            features[tw.FEATURE_TRACK])

  dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=not shuffled)
  if cache:
    dataset = dataset.cache()
    if is_training:
      dataset = dataset.shuffle(split_count(manifest, split), seed=seed,
                                reshuffle_each_iteration=True)
  if balance_classes:
    # Rejection sampling: each image read is kept with its class's inverse
    # frequency relative to the rarest class's, so every class is drawn
    # equally often. One pass over the one (cached) stream, which needs no
    # stream per class as sample_from_datasets would, and only kept images
    # are augmented; the reads go up by the imbalance (about 4x on GTSRB).
    # The take keeps an epoch's image count, so schedules stay comparable.
    # Fully balanced, not tempered by a power: the one setting to measure
    # first against the unbalanced run (GTSRB's rarest classes are then
    # seen about 4 times per epoch, its commonest about half).
    weights = class_weights(data_dir, split, manifest)
    keep = tf.constant(weights / weights.max(), tf.float32)
    draw_seed = None if seed is None else seed + _SAMPLING_SEED_OFFSET
    dataset = dataset.repeat().filter(
        lambda image, label, track: tf.random.uniform(
            [], seed=draw_seed) < tf.gather(keep, label))
    if num_epochs is not None:
      dataset = dataset.take(num_epochs * split_count(manifest, split) //
                             (shard[1] if shard else 1))
  elif num_epochs != 1:
    dataset = dataset.repeat(num_epochs)

  def preprocess(image, label, track):
    image = preprocessing.preprocess(image, image_size, augment=augment,
                                     color=augment_color, seed=seed,
                                     extra=augment_extra, tta_views=tta_views)
    return (image, label, track) if with_tracks else (image, label)

  dataset = dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=not is_training)
  dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
  return dataset.prefetch(tf.data.AUTOTUNE)


def worker_shards(files, index, count):
  """Worker `index` of `count`'s shard files (every count-th), or None when
  there are fewer files than workers (then each reads part of every file)."""
  return list(files[index::count]) if len(files) >= count else None


def iterate_batches(data_dir, split, image_size, batch_size=1, limit=None,
                    crop_roi=False, with_tracks=False):
  """Yields numpy (images float32 [B,S,S,3], labels int64 [B]) of a split,
  read for evaluation, until `limit` images; the last batch may be smaller.
  with_tracks: also the track ids int64 [B] (tfrecord_writer.track_id)."""
  with tf.Graph().as_default():
    dataset = make_dataset(data_dir, split, image_size, batch_size=batch_size,
                           crop_roi=crop_roi, with_tracks=with_tracks)
    if limit is not None:
      dataset = dataset.unbatch().take(limit).batch(batch_size)
    next_batch = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
    with tf.compat.v1.Session() as sess:
      while True:
        try:
          with reading(data_dir, split):
            batch = sess.run(next_batch)
        except tf.errors.OutOfRangeError:
          return
        yield batch


def load_split(data_dir, split, image_size, limit=None, crop_roi=False,
               with_tracks=False):
  """All (images, labels) of a split as arrays, with a progress bar;
  with_tracks: (images, labels, track ids)."""
  columns = None
  for batch in tqdm(iterate_batches(data_dir, split, image_size,
                                    batch_size=64, limit=limit,
                                    crop_roi=crop_roi,
                                    with_tracks=with_tracks),
                    desc=f"read {split}", unit="batch"):
    columns = [[] for _ in batch] if columns is None else columns
    for column, part in zip(columns, batch):
      column.append(part)
  if columns is None:
    raise UserError(f"{data_dir} split {split!r} holds no images")
  return tuple(np.concatenate(column) for column in columns)
