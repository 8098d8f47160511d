"""Evaluation: the tool on TFRecords and on a GTSRB test folder, bad input."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from alexnet.estimator import checkpoints

from alexnet.evaluation import checkpoint_eval

from alexnet.evaluation import reports

from alexnet.datasets import gtsrb_layout
from alexnet.datasets import preprocessing
from alexnet.datasets.gtsrb_layout import TEST_GT_CSV
from alexnet.core.errors import UserError
from alexnet.estimator.input_fn import input_fn
from alexnet.estimator.model_dir import load_model_config

PNG = b"\x89PNG\r\n\x1a\n"


def _read_report(output_dir):
  with open(os.path.join(output_dir, "report.json")) as f:
    return json.load(f)


def test_evaluate_tool_on_test_split(tool, tiny_model, tiny_gtsrb, tmp_path):
  out = tmp_path / "eval"
  proc = tool("evaluate", f"--model_dir={tiny_model}",
              f"--data_dir={tiny_gtsrb['tfrecords']}", "--split=test",
              "--checkpoint=latest", f"--output_dir={out}")
  report = _read_report(out)
  assert report["count"] == 6
  assert [c["count"] for c in report["per_class"][:4]] == [2, 2, 2, 0]
  assert sum(c["correct"] for c in report["per_class"]) == round(
      report["top1"] * 6)
  assert report["step"] == 6
  assert report["top5"] >= report["top1"] > 0
  for name in ("confusion_matrix.png", "loss_per_batch.png",
               "loss_per_epoch.png", "accuracy_per_epoch.png"):
    assert (out / name).read_bytes().startswith(PNG), name
  assert "top-1 accuracy" in proc.stdout
  assert "Speed limit (50km/h)" in proc.stdout  # Per-class sign names.
  assert (out / "report.txt").read_text().strip() in proc.stdout


def test_evaluate_tool_on_gtsrb_test_folder(tool, tiny_model, tiny_gtsrb,
                                            tmp_path):
  out = tmp_path / "eval"
  tool("evaluate", f"--model_dir={tiny_model}",
       f"--test_dir={tiny_gtsrb['test_images']}", f"--output_dir={out}")
  report = _read_report(out)
  rows = gtsrb_layout.read_gt_csv(os.path.join(tiny_gtsrb["test_images"],
                                            TEST_GT_CSV))
  assert report["count"] == len(rows)
  for c in report["per_class"]:
    assert c["count"] == sum(r.class_id == c["id"] for r in rows)
  # The best checkpoint by default.
  assert report["checkpoint"] == checkpoints.resolve(tiny_model, "best")
  assert report["top1"] >= 2 / 3  # Colors the model has learned.


def test_streaming_metrics_match_the_report(tiny_model, tiny_gtsrb, tmp_path):
  config = load_model_config(tiny_model)
  report = checkpoint_eval.evaluate(
      checkpoints.latest(tiny_model), config,
      lambda: input_fn(tiny_gtsrb["tfrecords"], "validation", config,
                       batch_size=4),
      summary_dir=str(tmp_path))
  values = {}
  for name in os.listdir(tmp_path):
    for event in tf.compat.v1.train.summary_iterator(str(tmp_path / name)):
      values.update({v.tag: v.simple_value for v in event.summary.value})
  assert report["count"] == 9
  assert values["validation/accuracy"] == pytest.approx(report["top1"])
  assert values["validation/top5"] == pytest.approx(report["top5"])
  assert values["validation/cross_entropy"] == pytest.approx(report["loss"],
                                                             rel=1e-4)


def test_checkpoint_of_another_shape_is_refused(tiny_model, tmp_path):
  config = load_model_config(tiny_model).replace(image_size=99)
  with pytest.raises(UserError, match="holds alexnet/fc6/weights as"):
    checkpoint_eval.evaluate(
        checkpoints.latest(tiny_model), config,
        lambda: (tf.zeros([1, 99, 99, 3]), tf.zeros([1], tf.int64)))


def test_bad_test_folders(tmp_path, tiny_gtsrb):
  with pytest.raises(UserError, match="does not exist"):
    gtsrb_layout.read_test_folder(str(tmp_path / "nothing"))
  archive = tmp_path / "GTSRB_Final_Test_Images.zip"
  archive.write_bytes(b"PK")
  with pytest.raises(UserError, match="is a file: extract .* then pass "
                     "DIR/GTSRB/Final_Test/Images$"):
    gtsrb_layout.read_test_folder(str(archive))
  with pytest.raises(UserError, match="has no GT-final_test.csv"):
    gtsrb_layout.read_test_folder(str(tmp_path))
  folder = tmp_path / "unlabeled"
  shutil.copytree(tiny_gtsrb["test_images"], folder)
  rows = gtsrb_layout.read_gt_csv(str(folder / TEST_GT_CSV))
  gtsrb_layout.write_gt_csv(str(folder / TEST_GT_CSV),
                         [r._replace(class_id=None) for r in rows])
  with pytest.raises(UserError, match="has no ClassId column"):
    gtsrb_layout.read_test_folder(str(folder))


def test_model_dir_without_config_or_checkpoint(tiny_gtsrb, tmp_path):
  with pytest.raises(UserError, match=(
      f"{tmp_path}/model_config.json not found: {tmp_path} is not a model "
      "directory written by tools/train.py")):
    reports.checkpoint_report(str(tmp_path), tiny_gtsrb["tfrecords"])
  with pytest.raises(UserError, match="pass --data_dir=TFRECORDS"):
    reports.checkpoint_report(str(tmp_path))


def test_evaluate_model_dir_writes_the_report(tiny_model, tiny_gtsrb, tmp_path):
  report = reports.evaluate_model_dir(
      tiny_model, tiny_gtsrb["tfrecords"], "validation", str(tmp_path))
  assert report["count"] == 9
  assert sorted(report["written"]) == sorted(os.listdir(tmp_path))
  assert _read_report(tmp_path)["top1"] == report["top1"]


def _probabilities(model_dir, data_dir, tta_views):
  config = load_model_config(model_dir)
  labels, probabilities, _, _ = checkpoint_eval.predictions(
      checkpoints.latest(model_dir), config,
      lambda: input_fn(data_dir, "validation", config, batch_size=4,
                       tta_views=tta_views))
  return labels, probabilities


def test_test_time_views_average_each_views_probabilities(tiny_model,
                                                         tiny_gtsrb):
  data_dir = tiny_gtsrb["tfrecords"]
  labels, plain = _probabilities(tiny_model, data_dir, 0)
  labels_1, one_view = _probabilities(tiny_model, data_dir, 1)
  # View 0 is the plain evaluation's image.
  np.testing.assert_array_equal(labels_1, labels)
  np.testing.assert_allclose(one_view, plain, atol=1e-6)
  count = len(preprocessing.TTA_VIEWS)
  _, averaged = _probabilities(tiny_model, data_dir, count)
  np.testing.assert_allclose(averaged.sum(axis=1), 1.0, atol=1e-5)
  assert np.abs(averaged - plain).max() > 1e-4  # the other views count
  # The mean of each view on its own (views fed to the plain graph).
  config = load_model_config(tiny_model)
  with tf.Graph().as_default():
    images, _ = input_fn(data_dir, "validation", config, batch_size=100,
                         tta_views=count)
    with tf.compat.v1.Session() as sess:
      views = sess.run(images)
  assert views.shape[1:] == (count, config.image_size, config.image_size, 3)

  def one_view(v):
    return tf.compat.v1.data.make_one_shot_iterator(
        tf.data.Dataset.from_tensor_slices((views[:, v], labels)).batch(
            4)).get_next()

  per_view = [checkpoint_eval.predictions(
      checkpoints.latest(tiny_model), config, lambda v=v: one_view(v))[1]
              for v in range(count)]
  np.testing.assert_allclose(averaged, np.mean(per_view, axis=0), atol=1e-5)


def test_evaluate_tool_with_test_time_views(tool, tiny_model, tiny_gtsrb,
                                            tmp_path):
  out = tmp_path / "eval"
  tool("evaluate", f"--model_dir={tiny_model}",
       f"--data_dir={tiny_gtsrb['tfrecords']}", "--split=test",
       "--tta_views=3", f"--output_dir={out}")
  report = _read_report(out)
  assert (report["tta_views"], report["count"]) == (3, 6)
  # By default beside the plain evaluation, never over it.
  assert reports.default_output_dir("m", "test", tta_views=3) != (
      reports.default_output_dir("m", "test"))
  refused = tool("evaluate", f"--model_dir={tiny_model}",
                 f"--data_dir={tiny_gtsrb['tfrecords']}",
                 f"--tta_views={len(preprocessing.TTA_VIEWS) + 1}",
                 check=False)
  assert refused.returncode == 1 and "--tta_views" in refused.stderr
