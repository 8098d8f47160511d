"""Class balance from the manifest's per-class counts: the loss weights and
the rejection sampling of the training split (builders.IMBALANCED)."""

import collections
import json
import os

import numpy as np
import pytest

from alexnet.core.errors import UserError
from alexnet.datasets import tfrecord_reader, tfrecord_writer
from tests import builders


@pytest.fixture(scope="module")
def imbalanced(tmp_path_factory):
  """The TFRecords dir of builders.IMBALANCED (18, 3 and 3 training
  images of classes 0, 1 and 2)."""
  return builders.build_dataset(tmp_path_factory.mktemp("imbalanced"),
                                builders.IMBALANCED)["tfrecords"]


def _train_labels(data_dir, **kwargs):
  labels = [label for _, batch in tfrecord_reader.make_dataset(
      data_dir, "train", 24, batch_size=8, is_training=True, seed=2,
      **kwargs) for label in batch.numpy()]
  return collections.Counter(labels), len(labels)


def test_loss_weights_have_mean_one_and_up_weight_the_rare_classes(
    imbalanced):
  manifest = tfrecord_reader.read_manifest(imbalanced)
  counts = np.array(manifest["splits"]["train"]["per_class"])
  assert list(counts[:3]) == [18, 3, 3]
  weights = tfrecord_reader.class_weights(imbalanced, "train")
  assert weights.shape == (manifest["num_classes"],)
  # Mean 1 over the training images, inverse to each class's count.
  assert (weights * counts).sum() / counts.sum() == pytest.approx(1.0)
  np.testing.assert_allclose(weights[:3], [24 / 54, 24 / 9, 24 / 9])
  assert weights[1] > 1 > weights[0]
  assert not weights[3:].any()  # Classes without images.


def test_sampling_draws_every_class_about_equally_and_keeps_the_epoch(
    imbalanced):
  plain, plain_total = _train_labels(imbalanced, num_epochs=20)
  balanced, total = _train_labels(imbalanced, num_epochs=20,
                                  balance_classes=True)
  assert plain_total == total == 20 * 24  # Same images per epoch.
  assert plain[0] == 20 * 18
  assert set(balanced) == {0, 1, 2}
  for label in (0, 1, 2):
    assert 0.27 < balanced[label] / total < 0.40, balanced


def test_sampling_is_repeatable_with_a_seed(imbalanced):
  first = _train_labels(imbalanced, num_epochs=2, balance_classes=True)
  assert _train_labels(imbalanced, num_epochs=2,
                       balance_classes=True) == first


def test_a_manifest_without_per_class_counts_is_one_line_to_rebuild(
    imbalanced, tmp_path):
  copy = str(tmp_path / "old")
  os.makedirs(copy)
  manifest = tfrecord_reader.read_manifest(imbalanced)
  for shard in manifest["splits"]["train"]["shards"]:
    os.symlink(os.path.join(imbalanced, shard), os.path.join(copy, shard))
  del manifest["splits"]["train"]["per_class"]
  with open(os.path.join(copy, tfrecord_writer.MANIFEST), "w") as f:
    json.dump(manifest, f)
  for read in (lambda: tfrecord_reader.class_weights(copy, "train"),
               lambda: tfrecord_reader.make_dataset(
                   copy, "train", 24, 8, balance_classes=True)):
    with pytest.raises(UserError, match="has no per-class counts of the "
                       "'train' split: rebuild") as info:
      read()
    assert "\n" not in str(info.value)
