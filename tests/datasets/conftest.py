"""Tiny GTSRB trees in the official layout, made by the tests themselves."""

import os
import types

import numpy as np
import pytest
from PIL import Image

from alexnet.datasets.gtsrb_layout import GTRow, train_csv_name, write_gt_csv

SIZE = 16  # Image side; ROI corners are fixed at ROI below.
ROI = (2, 3, 13, 14)  # x1, y1, x2, y2, inclusive.


def smooth_image(seed, size=SIZE):
  """A distinct smooth RGB image (smooth, so JPEG keeps it close)."""
  rng = np.random.RandomState(seed)
  yy, xx = np.mgrid[0:size, 0:size] / size
  base = rng.uniform(40, 200, 3)
  slope = rng.uniform(-50, 50, (2, 3))
  image = base + xx[..., None] * slope[0] + yy[..., None] * slope[1]
  return np.clip(image, 0, 255).astype(np.uint8)


def _write_image(path, seed):
  pixels = smooth_image(seed)
  Image.fromarray(pixels).save(path)
  return pixels


def _row(filename, class_id):
  return GTRow(filename, SIZE, SIZE, *ROI, class_id)


def make_training_tree(root, classes=(0, 14, 42), tracks=3, frames=2):
  """root/Images/000NN/TTTTT_FFFFF.ppm + GT-000NN.csv; returns (dir, pixels).

  `pixels` maps 'NN/TTTTT_FFFFF' to the image array written.
  """
  images_dir = os.path.join(root, "Images")
  pixels = {}
  for class_id in classes:
    folder = os.path.join(images_dir, f"{class_id:05d}")
    os.makedirs(folder)
    rows = []
    for track in range(tracks):
      for frame in range(frames):
        name = f"{track:05d}_{frame:05d}.ppm"
        seed = class_id * 1000 + track * 10 + frame
        pixels[f"{class_id}/{name[:-4]}"] = _write_image(
            os.path.join(folder, name), seed)
        rows.append(_row(name, class_id))
    write_gt_csv(os.path.join(folder, train_csv_name(class_id)), rows)
  return images_dir, pixels


def make_test_tree(root, labels=(0, 14, 42, 14)):
  """root/Images/NNNNN.ppm + GT-final_test.csv; returns (dir, pixels)."""
  images_dir = os.path.join(root, "Images")
  os.makedirs(images_dir)
  pixels, rows = {}, []
  for i, class_id in enumerate(labels):
    name = f"{i:05d}.ppm"
    pixels[f"{class_id}/{name[:-4]}"] = _write_image(
        os.path.join(images_dir, name), 7000 + i)
    rows.append(_row(name, class_id))
  write_gt_csv(os.path.join(images_dir, "GT-final_test.csv"), rows)
  return images_dir, pixels


@pytest.fixture
def tiny_gtsrb():
  """The tree makers, for tests that need other shapes of tree."""
  return types.SimpleNamespace(training=make_training_tree,
                               test=make_test_tree, ROI=ROI, SIZE=SIZE)


@pytest.fixture
def training_tree(tmp_path):
  """(Images dir, pixels) of 3 classes x 3 tracks x 2 frames."""
  return make_training_tree(str(tmp_path / "raw"))


@pytest.fixture
def final_test_tree(tmp_path):
  """(Images dir, pixels) of a 4-image final-test folder."""
  return make_test_tree(str(tmp_path / "raw_test"))
