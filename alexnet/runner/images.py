"""The labeled images a model file is run on: a TFRecord split or a GTSRB
final-test folder, read at the model's input size as evaluation reads them."""

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from alexnet.core.config import ModelConfig
from alexnet.core.errors import UserError
from alexnet.datasets import gtsrb_layout
from alexnet.datasets import signnames
from alexnet.datasets import tfrecord_reader
from alexnet.estimator.input_fn import test_folder_input_fn


def _test_folder(test_dir, image_size, limit, crop_roi):
  rows = gtsrb_layout.read_test_folder(test_dir)[:limit]
  model = ModelConfig(image_size=image_size, crop_roi=crop_roi)
  images, labels = [], []
  with tf.Graph().as_default():
    batch = test_folder_input_fn(test_dir, rows, model, batch_size=64)()
    with tf.compat.v1.Session() as sess, tqdm(
        total=len(rows), desc="read test folder", unit="img") as bar:
      while True:
        try:
          x, y = sess.run(batch)
        except tf.errors.OutOfRangeError:
          break
        images.append(x)
        labels.append(y)
        bar.update(len(y))
  if not images:
    raise UserError(f"{test_dir} holds no test images")
  return np.concatenate(images), np.concatenate(labels)


def load_images(data_dir, split, image_size, num_classes, limit=None,
                test_dir=None, crop_roi=False):
  """(images float32 [N,S,S,3] raw RGB, labels [N], class names, track ids
  [N] or None) of a TFRecord split, or of `test_dir` when given (its images
  name no track: None); `crop_roi` crops each image to its sign's ROI first
  (for models trained on crops)."""
  if test_dir:
    images, labels = _test_folder(test_dir, image_size, limit, crop_roi)
    if labels.max() >= num_classes:
      raise UserError(f"{test_dir} has class ids up to {labels.max()} but the "
                      f"model outputs {num_classes}")
    return images, labels, signnames.class_names(num_classes), None
  if not data_dir:
    raise UserError("pass --data_dir=TFRECORDS (with --split) or "
                    "--test_dir=.../Final_Test/Images")
  manifest = tfrecord_reader.check_split(data_dir, split, num_classes)
  images, labels, tracks = tfrecord_reader.load_split(
      data_dir, split, image_size, limit, crop_roi=crop_roi, with_tracks=True)
  return images, labels, tfrecord_reader.class_names(manifest), tracks
