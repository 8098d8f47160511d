"""Evaluation and calibration images from TFRecords, as numpy batches.

Uses the project's reader (alexnet.datasets.tfrecord_reader.make_dataset) so
calibration and evaluation see exactly the preprocessing of training and
evaluation: raw RGB 0..255 float32 at the model's input size. Runs the
dataset in its own graph and session, so it works whether or not the caller
disabled eager execution.
"""

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from alexnet import signnames
from alexnet.datasets import tfrecord_reader
from alexnet.core.errors import UserError


def iterate_batches(data_dir, split, image_size, batch_size=1, limit=None):
  """Yields (images float32 [B,S,S,3], labels int64 [B]) until `limit` images.

  The last batch may be smaller. Reader errors (missing split, bad directory)
  surface as the reader's UserErrors.
  """
  with tf.Graph().as_default():
    dataset = tfrecord_reader.make_dataset(data_dir, split, image_size,
                                           batch_size=batch_size,
                                           is_training=False)
    if limit is not None:
      dataset = dataset.unbatch().take(limit).batch(batch_size)
    next_batch = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
    with tf.compat.v1.Session() as sess:
      while True:
        try:
          yield sess.run(next_batch)
        except tf.errors.OutOfRangeError:
          return


def check_dataset(data_dir, split, num_classes):
  """UserError unless `data_dir` has `split` and the model's class count."""
  manifest = tfrecord_reader.read_manifest(data_dir)
  tfrecord_reader.shard_paths(data_dir, split, manifest)
  if manifest["num_classes"] != num_classes:
    raise UserError(f"{data_dir} has {manifest['num_classes']} classes but the "
                    f"model outputs {num_classes}: use the dataset the model "
                    "was trained on")
  return manifest


def class_names(manifest):
  """Class names from a dataset manifest (GTSRB sign names by default)."""
  return list(manifest.get("class_names") or
              signnames.SIGN_NAMES[:manifest["num_classes"]])


def load_split(data_dir, split, image_size, limit=None):
  """All (images, labels) of a split as two arrays, with a progress bar."""
  images, labels = [], []
  for x, y in tqdm(iterate_batches(data_dir, split, image_size, batch_size=64,
                                   limit=limit),
                   desc=f"read {split}", unit="batch"):
    images.append(x)
    labels.append(y)
  if not images:
    raise UserError(f"{data_dir} split {split!r} holds no images")
  return np.concatenate(images), np.concatenate(labels)
