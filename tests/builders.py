"""Tiny GTSRB data, tiny trained models and frozen graphs for every test folder.

Everything goes through the project's own code, as a real run does: images in
the official GTSRB training and test layouts (PPMs and GT CSVs),
alexnet.datasets.jpeg_folders and tfrecord_writer for the converted dir and
the TFRecords, alexnet.training.trainer for the model_dir, and
alexnet.serving.export plus alexnet.graph_tools.freeze for the frozen graph.
A `TinySet` says what a dataset looks like and how its model is trained;
tests/conftest.py builds each one it offers once per session.
"""

import dataclasses
import os
import typing

import numpy as np
from PIL import Image

from alexnet.core.config import MIN_IMAGE_SIZE, ModelConfig, TrainConfig
from alexnet.datasets import gtsrb_layout
from alexnet.datasets import jpeg_folders
from alexnet.datasets import tfrecord_writer
from alexnet.graph_tools import freeze
from alexnet.serving import export
from alexnet.training import trainer

_PALETTE = ((200, 30, 30), (30, 30, 200), (30, 180, 30))

# fc6 and fc7 of the tests' models: the paper's 4096 make an 87 MB network
# whose every conversion costs seconds; 256 keep all of AlexNet's layers at
# an eighth of the bytes.
FC_UNITS = 256


def _colored(index, rng, height, width):
  """A plain red, blue or green image under strong noise."""
  pixels = np.array(_PALETTE[index], np.float64) + rng.normal(
      0, 30, (height, width, 3))
  return np.clip(pixels, 0, 255).astype(np.uint8)


def _patterned(index, rng, height, width):
  """A bright left half, top half, centre square or diagonal band on a noisy
  dark background: the same mean colour, told apart only by shape."""
  image = rng.uniform(0, 60, (height, width, 3))
  if index == 0:
    image[:, :width // 2] += 180
  elif index == 1:
    image[:height // 2] += 180
  elif index == 2:
    image[height // 3:-(height // 3), width // 3:-(width // 3)] += 180
  else:
    rows, cols = np.indices((height, width))
    image[abs(rows - cols) < min(height, width) // 6] += 180
  return np.clip(image, 0, 255).astype(np.uint8)


def _smooth(index, rng, height, width):
  """A distinct smooth gradient, whatever the class (JPEG keeps it close)."""
  del index
  yy, xx = np.mgrid[0:height, 0:width]
  base = rng.uniform(40, 200, 3)
  slope = rng.uniform(-50, 50, (2, 3))
  image = (base + (xx / width)[..., None] * slope[0] +
           (yy / height)[..., None] * slope[1])
  return np.clip(image, 0, 255).astype(np.uint8)


LOOKS = {"colors": _colored, "patterns": _patterned, "smooth": _smooth}


@dataclasses.dataclass(frozen=True)
class TinySet:
  """A tiny dataset in the GTSRB layouts, and how a model is trained on it.

  The i-th of `classes` is drawn as class i of `look`, with `tracks`
  tracks (or the i-th of `class_tracks`, if given). `test_labels` are
  the Final_Test images' classes, in order (none: no test layout). Image
  sides are drawn from `sizes`, both ends included.
  """
  look: str
  classes: typing.Tuple[int, ...]
  tracks: int
  frames: int
  class_tracks: typing.Tuple[int, ...] = ()
  test_labels: typing.Tuple[int, ...] = ()
  sizes: typing.Tuple[int, int] = (30, 50)
  validation_fraction: float = 0.25
  num_shards: int = 1
  seed: int = 0
  model: ModelConfig = ModelConfig(image_size=MIN_IMAGE_SIZE,
                                   fc_units=FC_UNITS)
  train: TrainConfig = TrainConfig()

  @property
  def image_size(self):
    return self.model.image_size

  @property
  def batch_size(self):
    return self.train.batch_size

  def replace(self, **changes):
    return dataclasses.replace(self, **changes)

  def tracks_of(self, class_id):
    if self.class_tracks:
      return self.class_tracks[self.classes.index(class_id)]
    return self.tracks


# Three plain colours, 4 tracks of 3 frames (27 train, 9 validation images)
# and 6 test images: AlexNet-67 tells them apart within the 6 steps of 2
# epochs, the training tests' run.
COLORS = TinySet(
    look="colors", classes=(0, 1, 2), tracks=4, frames=3,
    test_labels=(0, 1, 2) * 2,
    train=TrainConfig(batch_size=9, epochs=2, seed=1, learning_rate=1e-4,
                      save_summary_steps=2, log_every_n_steps=2,
                      num_threads=2))

# Four shapes, 3 tracks of 6 frames (48 train, 24 validation images),
# trained 8 epochs of 3 steps: confident enough that its int8 and float
# TFLite conversions agree.
PATTERNS = TinySet(
    look="patterns", classes=(0, 1, 2, 3), tracks=3, frames=6,
    sizes=(48, 48), validation_fraction=0.34, num_shards=2,
    train=TrainConfig(batch_size=16, epochs=8, seed=0, learning_rate=1e-4,
                      weight_decay=0.0, num_threads=2))

# Distinct 16x16 gradients of three classes far apart in the label range,
# for the dataset tests, which compare pixels through each conversion.
SMOOTH = TinySet(look="smooth", classes=(0, 14, 42), tracks=3, frames=2,
                 test_labels=(0, 14, 42, 14), sizes=(16, 16))


# Three colours of 8, 2 and 2 tracks of 3 frames: 18, 3 and 3 training
# images (a quarter of each class's tracks, at least one, validate), for
# the class-balance tests.
IMBALANCED = TinySet(
    look="colors", classes=(0, 1, 2), tracks=0, frames=3,
    class_tracks=(8, 2, 2), sizes=(16, 20),
    train=TrainConfig(batch_size=8, epochs=1, seed=1, learning_rate=1e-4,
                      num_threads=2))


def roi(width, height):
  """The sign's ROI in every image (x1, y1, x2, y2, inclusive); unequal
  margins, so swapped coordinates show."""
  return (2, 3, width - 3, height - 2)


def _write_image(folder, name, tiny_set, class_id, rng):
  """Writes one PPM; returns (its GT row, its pixels)."""
  height, width = rng.randint(tiny_set.sizes[0], tiny_set.sizes[1] + 1, 2)
  pixels = LOOKS[tiny_set.look](tiny_set.classes.index(class_id), rng,
                                height, width)
  Image.fromarray(pixels).save(os.path.join(folder, name))
  return gtsrb_layout.GTRow(name, width, height, *roi(width, height),
                            class_id), pixels


def write_training_layout(root, tiny_set):
  """root/Images/000NN/TTTTT_FFFFF.ppm and GT-000NN.csv.

  Returns (the Images dir, pixels): `pixels` maps 'N/TTTTT_FFFFF' to the
  image written.
  """
  images_dir = os.path.join(root, "Images")
  pixels = {}
  for class_id in tiny_set.classes:
    folder = os.path.join(images_dir, f"{class_id:05d}")
    os.makedirs(folder)
    rows = []
    for track in range(tiny_set.tracks_of(class_id)):
      for frame in range(tiny_set.frames):
        name = f"{track:05d}_{frame:05d}.ppm"
        rng = np.random.RandomState([tiny_set.seed, class_id, track, frame])
        row, pixels[f"{class_id}/{name[:-4]}"] = _write_image(
            folder, name, tiny_set, class_id, rng)
        rows.append(row)
    gtsrb_layout.write_gt_csv(
        os.path.join(folder, gtsrb_layout.train_csv_name(class_id)), rows)
  return images_dir, pixels


def write_test_layout(root, tiny_set):
  """root/Images/NNNNN.ppm and GT-final_test.csv, one image per test label.

  Returns (the Images dir, pixels): `pixels` maps 'N/NNNNN' to the image.
  """
  images_dir = os.path.join(root, "Images")
  os.makedirs(images_dir)
  pixels, rows = {}, []
  for i, class_id in enumerate(tiny_set.test_labels):
    name = f"{i:05d}.ppm"
    rng = np.random.RandomState([tiny_set.seed, i])
    row, pixels[f"{class_id}/{name[:-4]}"] = _write_image(
        images_dir, name, tiny_set, class_id, rng)
    rows.append(row)
  gtsrb_layout.write_gt_csv(
      os.path.join(images_dir, gtsrb_layout.TEST_GT_CSV), rows)
  return images_dir, pixels


def build_dataset(root, tiny_set):
  """The GTSRB layouts under root/GTSRB, converted, and their TFRecords.

  Returns {"train_images", "test_images" (None without test labels),
  "tfrecords"}: the Images dirs and the dataset dir (train, validation and,
  with test labels, test).
  """
  layout = os.path.join(root, gtsrb_layout.ROOT_DIR)
  paths = {"tfrecords": os.path.join(root, "tfrecords"), "test_images": None}
  paths["train_images"], _ = write_training_layout(
      os.path.join(layout, gtsrb_layout.TRAINING_IMAGES[0]), tiny_set)
  splits = [("train", paths["train_images"])]
  if tiny_set.test_labels:
    paths["test_images"], _ = write_test_layout(
        os.path.join(layout, gtsrb_layout.TEST_IMAGES[0]), tiny_set)
    splits.append(("test", paths["test_images"]))
  for split, images_dir in splits:
    converted = os.path.join(root, "converted", split)
    jpeg_folders.convert(images_dir, converted, num_workers=1)
    tfrecord_writer.build(converted, paths["tfrecords"],
                          num_shards=tiny_set.num_shards,
                          validation_fraction=tiny_set.validation_fraction,
                          seed=tiny_set.seed)
  return paths


def quantization_aware(tiny_set, init_model_dir, epochs=1):
  """tiny_set fine-tuned quantization-aware from the model in
  init_model_dir (tools/train.py --init_checkpoint --quantize_delay=0)."""
  return tiny_set.replace(train=tiny_set.train.replace(
      quantize_delay=0, init_checkpoint=init_model_dir, epochs=epochs))


def train_model(tfrecords, model_dir, tiny_set):
  """Trains tiny_set's model on the TFRecords into model_dir; returns it."""
  trainer.train(tfrecords, model_dir, tiny_set.model, tiny_set.train)
  return model_dir


def freeze_export(export_dir, graph_path):
  """Freezes an export directory to graph_path (input -> probabilities), as
  tools/pipeline.py does; returns graph_path."""
  freeze.freeze_graph(os.path.join(export_dir, export.INFERENCE_GRAPH),
                      os.path.join(export_dir, export.CHECKPOINT),
                      graph_path, ["probabilities"])
  return graph_path


def freeze_model(model_dir, graph_path, checkpoint="latest"):
  """Exports model_dir from `checkpoint` and freezes the export to
  graph_path; returns graph_path."""
  return freeze_export(export.export(model_dir, checkpoint), graph_path)
