"""Tiny GTSRB-like data and a tiny trained model for the training tests.

Three classes of plain colored, noisy images (red, blue, green), four tracks
of three frames each, in the official GTSRB layouts; converted and written as
TFRecords with the project's own converter and writer. AlexNet at 67x67
separates them within a few steps.
"""

import os
import types

import numpy as np
import pytest
from PIL import Image

from alexnet.core.config import ModelConfig, TrainConfig
from alexnet.serving import export

from alexnet.training import trainer
from alexnet.datasets import tfrecord_writer
from alexnet.datasets import jpeg_folders
from alexnet.datasets import gtsrb_layout

IMAGE_SIZE = 67
BATCH_SIZE = 9
COLORS = ((200, 30, 30), (30, 30, 200), (30, 180, 30))
TRACKS, FRAMES = 4, 3


def noisy_image(rng, class_id, height, width):
  color = np.array(COLORS[class_id], dtype=np.float64)
  pixels = color + rng.normal(0, 30, (height, width, 3))
  return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _roi(width, height):
  return (3, 3, width - 4, height - 4)


def write_training_layout(root, rng):
  """Final_Training/Images: 000NN/TTTTT_FFFFF.ppm and GT-000NN.csv."""
  for class_id in range(len(COLORS)):
    folder = os.path.join(root, f"{class_id:05d}")
    os.makedirs(folder)
    rows = []
    for track in range(TRACKS):
      for frame in range(FRAMES):
        name = f"{track:05d}_{frame:05d}.ppm"
        size = int(rng.randint(30, 50))
        noisy_image(rng, class_id, size, size).save(os.path.join(folder, name))
        rows.append(gtsrb_layout.GTRow(name, size, size, *_roi(size, size),
                                    class_id))
    gtsrb_layout.write_gt_csv(
        os.path.join(folder, gtsrb_layout.train_csv_name(class_id)), rows)


def write_test_layout(root, rng, per_class=2):
  """Final_Test/Images: NNNNN.ppm and GT-final_test.csv."""
  os.makedirs(root)
  rows = []
  for i in range(per_class * len(COLORS)):
    class_id = i % len(COLORS)
    width, height = int(rng.randint(30, 60)), int(rng.randint(30, 60))
    name = f"{i:05d}.ppm"
    noisy_image(rng, class_id, height, width).save(os.path.join(root, name))
    rows.append(gtsrb_layout.GTRow(name, width, height, *_roi(width, height),
                                class_id))
  gtsrb_layout.write_gt_csv(os.path.join(root, jpeg_folders.TEST_GT_CSV), rows)


@pytest.fixture(scope="session")
def tiny_gtsrb(tmp_path_factory):
  """{"train_images", "test_images", "tfrecords"}: train/validation/test."""
  root = tmp_path_factory.mktemp("gtsrb")
  rng = np.random.RandomState(0)
  paths = {"train_images": str(root / "Final_Training" / "Images"),
           "test_images": str(root / "Final_Test" / "Images"),
           "tfrecords": str(root / "tfrecords")}
  write_training_layout(paths["train_images"], rng)
  write_test_layout(paths["test_images"], rng)
  for images, converted in ((paths["train_images"], root / "converted"),
                            (paths["test_images"], root / "converted_test")):
    jpeg_folders.convert(images, str(converted), num_workers=1)
    tfrecord_writer.build(str(converted), paths["tfrecords"], num_shards=1,
                          validation_fraction=0.25, seed=0)
  return paths


TINY_MODEL = ModelConfig(image_size=IMAGE_SIZE, normalization="lrn")
TINY_TRAIN = TrainConfig(batch_size=BATCH_SIZE, epochs=2, seed=1,
                         learning_rate=1e-4, save_summary_steps=2,
                         log_every_n_steps=2, num_threads=2)


@pytest.fixture(scope="session")
def tiny():
  """The tiny run's settings: image_size, batch_size, model, train."""
  return types.SimpleNamespace(image_size=IMAGE_SIZE, batch_size=BATCH_SIZE,
                               model=TINY_MODEL, train=TINY_TRAIN)


@pytest.fixture(scope="session")
def tiny_model(tiny_gtsrb, tmp_path_factory):
  """A model_dir trained 2 epochs (6 steps) on tiny_gtsrb, with best/."""
  model_dir = str(tmp_path_factory.mktemp("model") / "run")
  trainer.train(tiny_gtsrb["tfrecords"], model_dir, TINY_MODEL, TINY_TRAIN)
  return model_dir


@pytest.fixture(scope="session")
def exported_model(tiny_model):
  """tiny_model with export/ from its latest checkpoint."""
  export.export(tiny_model, "latest")
  return tiny_model


@pytest.fixture
def model_dir_link(tiny_model, tmp_path):
  """A new model_dir whose latest checkpoint and config link to tiny_model's."""
  model_dir = tmp_path / "linked_model"
  model_dir.mkdir()
  for name in os.listdir(tiny_model):
    if name.startswith("model.ckpt-6") or name in ("checkpoint",
                                                   "model_config.json"):
      os.symlink(os.path.join(tiny_model, name), model_dir / name)
  return str(model_dir)
