"""Training: loss goes down, the run's files, resume after SIGKILL, moving
averages, bad input."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from alexnet.estimator import checkpoints

from alexnet.estimator import train_log

from alexnet.training import trainer
from alexnet.core.errors import UserError
from alexnet.estimator.model_dir import CONFIG_NAME

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _event_tags(directory):
  tags = set()
  for name in os.listdir(directory):
    if name.startswith("events.out"):
      for event in tf.compat.v1.train.summary_iterator(
          os.path.join(directory, name)):
        if event.graph_def:
          tags.add("<graph>")
        tags.update(v.tag for v in event.summary.value)
  return tags


def test_training_lowers_loss_and_writes_the_run(tiny_model, tiny):
  batches, epochs = train_log.read(train_log.log_path(tiny_model))
  assert [r["step"] for r in batches] == [1, 2, 3, 4, 5, 6]
  assert [(r["epoch"], r["step"]) for r in epochs] == [(1, 3), (2, 6)]
  # The trained model's validation loss is below the untrained first batch's.
  assert epochs[-1]["val_loss"] < batches[0]["cross_entropy"]
  assert batches[-1]["cross_entropy"] < batches[0]["cross_entropy"]
  assert epochs[-1]["val_top1"] >= 2 / 3
  assert all(r["learning_rate"] == pytest.approx(1e-4) for r in batches)

  with open(os.path.join(tiny_model, CONFIG_NAME)) as f:
    config = json.load(f)
  assert config["image_size"] == tiny.image_size
  assert config["num_classes"] == 43
  assert config["class_names"][14] == "Stop"
  # The serialized ModelConfig and nothing else (no run state).
  assert config == tiny.model.replace(
      num_classes=43, class_names=tuple(config["class_names"])).to_dict()

  assert checkpoints.global_step(checkpoints.latest(tiny_model)) == 6
  best = checkpoints.read_best(tiny_model)
  assert best["best"] and best["step"] in (3, 6)
  assert best["val_top1"] == max(r["val_top1"] for r in epochs)
  best_path = checkpoints.resolve(tiny_model, "best")
  assert checkpoints.global_step(best_path) == best["step"]
  # best/ holds model variables only, no optimizer state.
  names = [n for n, _ in tf.train.list_variables(best_path)]
  assert "alexnet/fc8/weights" in names
  assert not [n for n in names if "Adam" in n]

  tags = _event_tags(tiny_model)
  assert {"loss", "accuracy", "learning_rate", "<graph>"} <= tags
  assert any(t.startswith("inputs/image") for t in tags)
  assert {"validation/accuracy", "validation/top5"} <= _event_tags(
      os.path.join(tiny_model, "eval"))


def _checkpoint_step(model_dir):
  path = checkpoints.latest(model_dir)
  return checkpoints.global_step(path) if path else 0


@pytest.mark.slow
def test_resume_after_sigkill(tiny_gtsrb, tiny, tmp_path):
  model_dir = str(tmp_path / "run")
  args = [sys.executable, os.path.join(REPO_ROOT, "tools", "train.py"),
          f"--data_dir={tiny_gtsrb['tfrecords']}", f"--model_dir={model_dir}",
          f"--image_size={tiny.image_size}", f"--batch_size={tiny.batch_size}",
          f"--fc_units={tiny.model.fc_units}", "--save_checkpoints_steps=2", "--seed=3", "--num_threads=2",
          "--augment", "--augment_color"]
  proc = subprocess.Popen(args + ["--max_steps=1000"], cwd=REPO_ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 120
    while _checkpoint_step(model_dir) < 4:
      assert proc.poll() is None, "training ended before it was killed"
      assert time.time() < deadline, "no checkpoint at step 4 within 120 s"
      time.sleep(0.2)
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
  killed_at = _checkpoint_step(model_dir)
  batches, _ = train_log.read(train_log.log_path(model_dir))
  before = [r for r in batches if r["step"] <= killed_at]

  result = subprocess.run(args + [f"--max_steps={killed_at + 3}"],
                          cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr
  assert f"model.ckpt-{killed_at}" in result.stderr  # Restored, not restarted.
  batches, epochs = train_log.read(train_log.log_path(model_dir))
  # Each step once: the killed run's lines past its checkpoint were dropped.
  assert [r["step"] for r in batches] == list(range(1, killed_at + 4))
  assert batches[:killed_at] == before
  assert [r["step"] for r in epochs] == sorted({r["step"] for r in epochs})
  assert _checkpoint_step(model_dir) == killed_at + 3
  # train.py exports at the end.
  assert os.path.exists(os.path.join(model_dir, "export", "saved_model",
                                     "saved_model.pb"))


@pytest.mark.slow
def test_moving_averages_are_validated_and_kept(tiny_gtsrb, tiny, tmp_path):
  model_dir = str(tmp_path / "run")
  trainer.train(tiny_gtsrb["tfrecords"], model_dir, tiny.model,
                tiny.train.replace(moving_average_decay=0.5))
  best = checkpoints.read_best(model_dir)
  checkpoint = os.path.join(model_dir, f"model.ckpt-{best['step']}")
  best_path = checkpoints.resolve(model_dir, "best")
  name = "alexnet/fc8/weights"
  average = tf.train.load_variable(
      checkpoint, f"{name}/{checkpoints.MOVING_AVERAGE}")
  # best/ holds the averages under the plain names, for export.
  np.testing.assert_array_equal(tf.train.load_variable(best_path, name),
                                average)
  assert not np.allclose(tf.train.load_variable(checkpoint, name), average)
  assert not [n for n, _ in tf.train.list_variables(best_path)
              if checkpoints.MOVING_AVERAGE in n]
  # benchmarks/raw_weights.py keeps the raw values, for comparison.
  subprocess.run([sys.executable, "benchmarks/raw_weights.py",
                  f"--checkpoint={checkpoint}",
                  f"--output_dir={tmp_path / 'raw'}"], cwd=REPO_ROOT,
                 check=True, capture_output=True)
  raw = str(tmp_path / "raw" / f"model.ckpt-{best['step']}")
  np.testing.assert_array_equal(tf.train.load_variable(raw, name),
                                tf.train.load_variable(checkpoint, name))
  assert not [n for n, _ in tf.train.list_variables(raw)
              if checkpoints.MOVING_AVERAGE in n or "Adam" in n]


def test_bad_moving_average_decay_is_refused(tiny_gtsrb, tiny, tmp_path):
  with pytest.raises(UserError,
                     match=r"--moving_average_decay=1.0 is out of range: it "
                     r"must be in \[0, 1\)"):
    trainer.train(tiny_gtsrb["tfrecords"], str(tmp_path / "m"), tiny.model,
                  tiny.train.replace(moving_average_decay=1.0))
  assert not os.path.exists(tmp_path / "m")


def test_adding_moving_averages_on_resume_is_refused(model_dir_link,
                                                     tiny_gtsrb, tiny):
  with pytest.raises(UserError, match="trained without --moving_average_"):
    trainer.train(tiny_gtsrb["tfrecords"], model_dir_link, tiny.model,
                  tiny.train.replace(moving_average_decay=0.9, epochs=3))


def _copy_dataset(tiny_gtsrb, tmp_path, num_classes):
  data_dir = str(tmp_path / "other_data")
  shutil.copytree(tiny_gtsrb["tfrecords"], data_dir)
  path = os.path.join(data_dir, "manifest.json")
  with open(path) as f:
    manifest = json.load(f)
  manifest["num_classes"] = num_classes
  manifest["class_names"] = manifest["class_names"][:num_classes]
  with open(path, "w") as f:
    json.dump(manifest, f)
  return data_dir


def _model_dir_with_config(tiny_model, tmp_path):
  model_dir = str(tmp_path / "model")
  os.makedirs(model_dir)
  shutil.copy(os.path.join(tiny_model, CONFIG_NAME), model_dir)
  return model_dir


def test_other_class_count_is_refused(tiny_model, tiny_gtsrb, tiny,
                                      tmp_path):
  data_dir = _copy_dataset(tiny_gtsrb, tmp_path, num_classes=10)
  model_dir = _model_dir_with_config(tiny_model, tmp_path)
  with pytest.raises(UserError, match="has 10 classes but the model .* has 43"):
    trainer.train(data_dir, model_dir, tiny.model, tiny.train)


def test_other_image_size_is_refused(tiny_model, tiny_gtsrb, tiny, tmp_path):
  model_dir = _model_dir_with_config(tiny_model, tmp_path)
  with pytest.raises(UserError, match="--image_size=67, not 99"):
    trainer.train(tiny_gtsrb["tfrecords"], model_dir,
                  tiny.model.replace(image_size=99), tiny.train)


def test_checkpoints_without_config_are_refused(model_dir_link, tiny_gtsrb,
                                                tiny):
  os.remove(os.path.join(model_dir_link, CONFIG_NAME))
  with pytest.raises(UserError, match="has checkpoints but no model_config"):
    trainer.train(tiny_gtsrb["tfrecords"], model_dir_link, tiny.model,
                  tiny.train)


def test_batch_larger_than_data_is_refused(tiny_gtsrb, tiny, tmp_path):
  with pytest.raises(UserError, match="--batch_size=64 is larger than the 27"):
    trainer.train(tiny_gtsrb["tfrecords"], str(tmp_path / "m"), tiny.model,
                  tiny.train.replace(batch_size=64))


def test_missing_data_dir_is_one_line(tool, tmp_path):
  data_dir = tmp_path / "tfrecords"
  proc = tool("train", f"--data_dir={data_dir}",
              f"--model_dir={tmp_path / 'model'}", check=False)
  assert proc.returncode == 1
  lines = proc.stderr.strip().splitlines()
  assert lines[-1].startswith(f"error: {data_dir} has no manifest.json")
  assert "Traceback" not in proc.stderr


def test_empty_data_dir_is_refused(tiny, tmp_path):
  (tmp_path / "empty").mkdir()
  with pytest.raises(UserError, match="has no manifest.json"):
    trainer.train(str(tmp_path / "empty"), str(tmp_path / "m"), tiny.model)
