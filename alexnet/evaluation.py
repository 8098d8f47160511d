"""Evaluation of a checkpoint: model_fn's EVAL graph over a labeled set.

The set comes from an input_fn: TFRecords (training.input_fn) or a GTSRB
final-test folder of .ppm files with GT-final_test.csv (`gtsrb_test_input_fn`),
preprocessed exactly as the TFRecord reader does for evaluation.
"""

import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from alexnet import checkpoints, metrics, preprocessing
from alexnet.datasets import gtsrb_csv
from alexnet.datasets.convert import TEST_GT_CSV
from alexnet.core.errors import UserError
from alexnet.model_fn import ModeKeys, model_fn
from alexnet.prediction import read_image


def evaluate(checkpoint_path, params, input_fn, num_examples=None,
             desc="evaluate", summary_dir=None, session_config=None):
  """Runs the EVAL graph of `params` on all of input_fn's batches.

  Args:
    checkpoint_path: the checkpoint to restore.
    params: model params with "class_names" (model_config.json contents).
    input_fn: builds (images, labels) tensors in the current graph; they
      must end (OutOfRange) after one pass.
    num_examples: for the progress bar's total, if known.
    desc: progress bar label.
    summary_dir: if given, the streaming metrics are written there as
      TensorBoard summaries at the checkpoint's step.
    session_config: tf.compat.v1.ConfigProto.

  Returns:
    metrics.classification_report(...) plus "checkpoint" and "step".
  """
  probabilities, labels = [], []
  with tf.Graph().as_default():
    images, label_tensor = input_fn()
    spec = model_fn(images, label_tensor, ModeKeys.EVAL, params)
    values = {k: v for k, (v, _) in spec.eval_metric_ops.items()}
    updates = [u for _, u in spec.eval_metric_ops.values()]
    fetches = [spec.predictions["probabilities"], label_tensor, updates]
    with tf.compat.v1.Session(config=session_config) as sess:
      sess.run(tf.compat.v1.local_variables_initializer())
      checkpoints.restore(sess, checkpoint_path)
      with tqdm(total=num_examples, desc=desc, unit="img",
                dynamic_ncols=True, leave=False) as bar:
        while True:
          try:
            p, y, _ = sess.run(fetches)
          except tf.errors.OutOfRangeError:
            break
          probabilities.append(p)
          labels.append(y)
          bar.update(len(y))
      streaming = sess.run(values)
  if not labels:
    raise UserError(f"{desc}: the evaluation set holds no images")
  report = metrics.classification_report(
      np.concatenate(labels), np.concatenate(probabilities),
      params["class_names"])
  step = checkpoints.global_step(checkpoint_path)
  report.update(checkpoint=checkpoint_path, step=step)
  if summary_dir:
    _write_summaries(summary_dir, streaming, step or 0)
  return report


def _write_summaries(summary_dir, values, step):
  summary = tf.compat.v1.Summary(value=[
      tf.compat.v1.Summary.Value(tag=f"validation/{k}", simple_value=float(v))
      for k, v in sorted(values.items())])
  with tf.Graph().as_default():  # FileWriter refuses eager mode.
    writer = tf.compat.v1.summary.FileWriter(summary_dir)
    writer.add_summary(summary, step)
    writer.close()


def read_gtsrb_test(test_dir):
  """The labeled GTRows of a GTSRB final-test image folder."""
  csv_path = os.path.join(test_dir, TEST_GT_CSV)
  if not os.path.isdir(test_dir):
    raise UserError(f"test directory {test_dir} does not exist; pass "
                    ".../GTSRB/Final_Test/Images")
  if not os.path.exists(csv_path):
    raise UserError(f"{test_dir} has no {TEST_GT_CSV}: extract it from "
                    "GTSRB_Final_Test_GT.zip into that folder")
  rows = gtsrb_csv.read_gt_csv(csv_path)
  if any(r.class_id is None for r in rows):
    raise UserError(f"{csv_path} has no ClassId column: use the labeled "
                    f"{TEST_GT_CSV} from GTSRB_Final_Test_GT.zip")
  return rows


def gtsrb_test_input_fn(test_dir, rows, params, batch_size):
  """input_fn over a test folder's images, ROI-cropped if the model was."""
  crop_roi = params["crop_roi"]

  def generate():
    for r in rows:
      image = read_image(os.path.join(test_dir, r.filename))
      if crop_roi:  # ROI corners are inclusive.
        image = image[r.roi_y1:r.roi_y2 + 1, r.roi_x1:r.roi_x2 + 1]
      yield image, r.class_id

  def fn():
    dataset = tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec([None, None, 3], tf.uint8),
        tf.TensorSpec([], tf.int64)))
    dataset = dataset.map(
        lambda image, label: (preprocessing.preprocess(
            image, params["image_size"]), label),
        num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()

  return fn
