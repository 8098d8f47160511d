"""input_fns: the (images, labels) tensors model_fn's graphs read.

From TFRecords (alexnet.datasets.tfrecord_reader) or from a GTSRB final-test
folder of image files with GT-final_test.csv, preprocessed exactly as the
TFRecord reader does for evaluation; both crop to the sign's ROI when the
model was trained on crops.
"""

import os

import tensorflow as tf

from alexnet.datasets import gtsrb_layout
from alexnet.datasets import image_files
from alexnet.datasets import preprocessing
from alexnet.datasets import tfrecord_reader


def input_fn(data_dir, split, model, batch_size, is_training=False,
             augment=False, augment_color=False, num_epochs=1, seed=None,
             shard=None, with_tracks=False, augment_extra=(),
             balance_classes=False, tta_views=0):
  """(images, labels) tensors of one TFRecord split, for a ModelConfig;
  `shard` (index, count): a cluster worker's part of it; with_tracks:
  (images, labels, track ids); augment_extra, balance_classes, tta_views:
  as tfrecord_reader.make_dataset's."""
  dataset = tfrecord_reader.make_dataset(
      data_dir, split, model.image_size, batch_size,
      is_training=is_training, augment=augment, augment_color=augment_color,
      crop_roi=model.crop_roi, num_epochs=num_epochs, seed=seed,
      drop_remainder=is_training, shard=shard, with_tracks=with_tracks,
      augment_extra=augment_extra, balance_classes=balance_classes,
      tta_views=tta_views)
  return tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()


def test_folder_input_fn(test_dir, rows, model, batch_size, tta_views=0):
  """An input_fn over a GTSRB test folder's images (`rows`: its GTRows);
  tta_views as tfrecord_reader.make_dataset's."""

  def generate():
    for r in rows:
      image = image_files.read_image(os.path.join(test_dir, r.filename))
      if model.crop_roi:
        image = gtsrb_layout.crop_roi(image, r)
      yield image, r.class_id

  def fn():
    dataset = tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec([None, None, 3], tf.uint8),
        tf.TensorSpec([], tf.int64)))
    dataset = dataset.map(
        lambda image, label: (preprocessing.preprocess(
            image, model.image_size, tta_views=tta_views), label),
        num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()

  return fn
