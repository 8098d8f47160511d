"""Converted folders -> TFRecord shards + manifest -> tf.data batches."""

import json
import os
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from alexnet.datasets import preprocessing
from alexnet.datasets import signnames
from alexnet.datasets import tfrecord_reader, tfrecord_writer
from alexnet.datasets import jpeg_folders
from alexnet.core.errors import UserError
from tests import builders

JPEG_TOLERANCE = 4.0  # Mean absolute difference, 0..255, at quality 95.
SHARED_ZIP = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                          "shared", "gtsrb",
                          "GTSRB_Final_Training_Images_32px.zip")


@pytest.fixture
def converted(training_tree, tmp_path):
  """(converted dir, pixels) of the 3-class tiny training tree."""
  images_dir, pixels = training_tree
  out = str(tmp_path / "converted")
  jpeg_folders.convert(images_dir, out)
  return out, pixels


def _records(data_dir, split):
  """(filename, label, track_id) of every record, in file order."""
  manifest = tfrecord_reader.read_manifest(data_dir)
  rows = []
  for shard in manifest["splits"][split]["shards"]:
    for record in tf.data.TFRecordDataset(os.path.join(data_dir, shard)):
      f = tf.train.Example.FromString(record.numpy()).features.feature
      rows.append((f["image/filename"].bytes_list.value[0].decode(),
                   f["image/class/label"].int64_list.value[0],
                   f["image/track_id"].int64_list.value[0]))
  return rows


def test_split_is_by_track_stratified_and_deterministic(converted, tmp_path):
  source, pixels = converted
  out = str(tmp_path / "tfrecords")
  manifest = tfrecord_writer.build(source, out, num_shards=2,
                                   validation_fraction=0.3, seed=7)

  train, validation = _records(out, "train"), _records(out, "validation")
  assert len(train) + len(validation) == len(pixels)
  assert not {t for _, _, t in train} & {t for _, _, t in validation}
  assert {label for _, label, _ in train} == {0, 14, 42}
  assert {label for _, label, _ in validation} == {0, 14, 42}
  assert manifest["num_classes"] == 43
  assert manifest["class_names"] == list(signnames.SIGN_NAMES)
  assert manifest["splits"]["train"]["count"] == len(train)
  assert manifest["splits"]["validation"]["per_class"][14] == sum(
      1 for _, label, _ in validation if label == 14)
  assert manifest["splits"]["validation"]["num_tracks"] == len(
      {t for _, _, t in validation})
  assert manifest["splits"]["train"]["shards"] == [
      "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
  assert manifest["image_size_stats"]["max_width"] == 16
  assert (manifest["seed"], manifest["validation_fraction"]) == (7, 0.3)
  with open(os.path.join(out, "manifest.json")) as f:
    assert json.load(f) == manifest

  again = str(tmp_path / "again")
  tfrecord_writer.build(source, again, num_shards=2, validation_fraction=0.3,
                        seed=7)
  assert _records(again, "validation") == validation


def test_pixels_and_labels_survive_the_round_trip(converted, tmp_path):
  source, pixels = converted
  out = str(tmp_path / "tfrecords")
  tfrecord_writer.build(source, out, num_shards=1, validation_fraction=0.3)
  records = _records(out, "train")

  dataset = tfrecord_reader.make_dataset(out, "train", 16, batch_size=100)
  images, labels = next(iter(dataset))

  assert images.dtype == tf.float32 and labels.dtype == tf.int64
  assert images.shape == (len(records), 16, 16, 3)
  for image, label, (filename, record_label, _) in zip(images.numpy(),
                                                      labels.numpy(), records):
    folder, name = filename.split("/")
    assert label == record_label == int(folder.split("_")[0])
    expected = pixels[f"{label}/{name[:-4]}"]
    assert np.abs(image - expected).mean() < JPEG_TOLERANCE

  with_tracks = tfrecord_reader.make_dataset(out, "train", 16, batch_size=100,
                                             with_tracks=True)
  _, again, tracks = next(iter(with_tracks))
  np.testing.assert_array_equal(again, labels)
  assert tracks.numpy().tolist() == [track for _, _, track in records]
  assert len(set(tracks.numpy().tolist())) > 1


def test_crop_roi_reads_the_roi(converted, tmp_path):
  source, pixels = converted
  out = str(tmp_path / "tfrecords")
  tfrecord_writer.build(source, out, num_shards=1, validation_fraction=0.3)
  x1, y1, x2, y2 = builders.roi(16, 16)
  side = x2 - x1 + 1  # The tiny ROI is square: resizing keeps its pixels.
  filename, _, _ = _records(out, "train")[0]
  images, labels = next(iter(tfrecord_reader.make_dataset(
      out, "train", side, batch_size=1, crop_roi=True)))
  expected = pixels[f"{labels[0]}/{filename.split('/')[1][:-4]}"]
  assert np.abs(images[0].numpy() -
                expected[y1:y2 + 1, x1:x2 + 1]).mean() < JPEG_TOLERANCE


def _augmented_batches(out, augment_color, count, extra=()):
  """count training batches, and the op types of the graph's functions."""
  with tf.Graph().as_default() as graph:
    dataset = tfrecord_reader.make_dataset(
        out, "train", 24, batch_size=4, is_training=True, augment=True,
        augment_color=augment_color, num_epochs=None, seed=3,
        drop_remainder=True, shuffle_buffer=50, augment_extra=extra)
    images, labels = tf.compat.v1.data.make_one_shot_iterator(
        dataset).get_next()
    assert images.shape.as_list() == [4, 24, 24, 3]
    with tf.compat.v1.Session() as sess:
      batches = [sess.run([images, labels]) for _ in range(count)]
  ops = {node.op for function in graph.as_graph_def().library.function
         for node in function.node_def}
  return batches, ops


@pytest.mark.parametrize("augment_color", [False, True])
def test_training_pipeline_in_a_v1_graph_with_augmentation(
    converted, tmp_path, augment_color):
  source, _ = converted
  out = str(tmp_path / "tfrecords")
  tfrecord_writer.build(source, out, num_shards=2, validation_fraction=0.3)
  batches, ops = _augmented_batches(out, augment_color, 6)  # > 1 epoch.
  values = np.stack([b[0] for b in batches])
  assert values.min() >= 0 and values.max() <= 255
  assert set(np.concatenate([b[1] for b in batches])) <= {0, 14, 42}
  assert "ImageProjectiveTransformV3" in ops
  assert ("Pow" in ops) == augment_color  # The gamma curve.
  assert not ops & {"Einsum", "MatrixSolve"}  # No blur, no perspective.


def test_the_extra_augmentations_reach_the_training_pipeline(converted,
                                                             tmp_path):
  source, _ = converted
  out = str(tmp_path / "tfrecords")
  tfrecord_writer.build(source, out, num_shards=2, validation_fraction=0.3)
  batches, ops = _augmented_batches(
      out, False, 3, extra=preprocessing.EXTRA_AUGMENTATIONS)
  values = np.stack([b[0] for b in batches])
  assert values.shape == (3, 4, 24, 24, 3)
  assert values.min() >= 0 and values.max() <= 255
  # Blur's products, the perspective's solve, the antialiased down-sampling.
  assert {"Einsum", "MatrixSolve", "ScaleAndTranslate"} <= ops


def test_initializable_iterator_reads_validation_once_per_epoch(converted,
                                                                tmp_path):
  source, _ = converted
  out = str(tmp_path / "tfrecords")
  manifest = tfrecord_writer.build(source, out, validation_fraction=0.3)
  with tf.Graph().as_default():
    iterator = tf.compat.v1.data.make_initializable_iterator(
        tfrecord_reader.make_dataset(out, "validation", 8, batch_size=4))
    _, labels = iterator.get_next()
    with tf.compat.v1.Session() as sess:
      for _ in range(2):
        sess.run(iterator.initializer)
        seen = 0
        while True:
          try:
            seen += len(sess.run(labels))
          except tf.errors.OutOfRangeError:
            break
        assert seen == manifest["splits"]["validation"]["count"]


def test_test_split_is_added_to_an_existing_dataset(converted, final_test_tree,
                                                    tmp_path):
  source, _ = converted
  out = str(tmp_path / "tfrecords")
  tfrecord_writer.build(source, out, validation_fraction=0.3)
  test_dir = str(tmp_path / "converted_test")
  jpeg_folders.convert(final_test_tree[0], test_dir)

  manifest = tfrecord_writer.build(test_dir, out)

  assert set(manifest["splits"]) == {"train", "validation", "test"}
  assert manifest["splits"]["test"]["count"] == 4
  assert manifest["splits"]["test"]["per_class"][14] == 2
  assert {t for _, _, t in _records(out, "test")} == {-1}
  assert tfrecord_reader.read_manifest(out) == manifest
  _, labels = next(iter(tfrecord_reader.make_dataset(out, "test", 8, 10)))
  assert sorted(labels.numpy()) == [0, 14, 14, 42]
  with pytest.raises(UserError, match="already has a test split"):
    tfrecord_writer.build(test_dir, out)
  replaced = tfrecord_writer.build(test_dir, out, num_shards=2, overwrite=True)
  assert set(replaced["splits"]) == {"train", "validation", "test"}
  assert sorted(f for f in os.listdir(out) if f.startswith("test-")) == [
      "test-00000-of-00002.tfrecord", "test-00001-of-00002.tfrecord"]


def test_bad_datasets_give_user_errors(converted, tmp_path):
  source, _ = converted
  out = str(tmp_path / "tfrecords")
  with pytest.raises(UserError, match="build_tfrecord.py"):
    tfrecord_reader.read_manifest(out)
  tfrecord_writer.build(source, out, validation_fraction=0.3)
  with pytest.raises(UserError, match="--overwrite"):
    tfrecord_writer.build(source, out)
  with pytest.raises(UserError, match="no 'test' split"):
    tfrecord_reader.make_dataset(out, "test", 8, 2)
  with open(os.path.join(out, "manifest.json"), "w") as f:
    f.write("{truncated")
  with pytest.raises(UserError, match="corrupt"):
    tfrecord_reader.read_manifest(out)

  with pytest.raises(UserError, match="convert_dataset.py"):
    tfrecord_writer.build(str(tmp_path), str(tmp_path / "x"))
  first, second = jpeg_folders.read_annotations(source)[:2]
  with open(os.path.join(source, first.file), "r+b") as f:
    jpeg = f.read()
    f.truncate(100)
  with pytest.raises(UserError, match=f"{first.file} is not a complete JPEG"):
    tfrecord_writer.build(source, str(tmp_path / "y"))
  with open(os.path.join(source, first.file), "wb") as f:
    f.write(jpeg)
  os.remove(os.path.join(source, second.file))
  with pytest.raises(UserError, match=f"{second.file} is listed .* missing"):
    tfrecord_writer.build(source, str(tmp_path / "y"))

  one_track, _ = builders.write_training_layout(
      str(tmp_path / "one"), builders.SMOOTH.replace(tracks=1))
  one_converted = str(tmp_path / "one_converted")
  jpeg_folders.convert(one_track, one_converted)
  with pytest.raises(UserError, match="only one track"):
    tfrecord_writer.build(one_converted, str(tmp_path / "z"))
  assert not os.path.exists(tmp_path / "z")


def _zip_tree(root, zip_path):
  with zipfile.ZipFile(zip_path, "w") as archive:
    for folder, _, files in os.walk(root):
      for name in files:
        path = os.path.join(folder, name)
        archive.write(path, os.path.relpath(path, os.path.dirname(root)))


def _run_chain(tool, tmp_path, archive):
  """download --archive, convert, build_tfrecord; returns the manifest."""
  raw = tmp_path / "raw"
  tool("download_gtsrb", f"--output_dir={raw}", f"--archive={archive}")
  images = raw / "GTSRB" / "Final_Training" / "Images"
  tool("convert_dataset", f"--input_dir={images}",
       f"--output_dir={tmp_path / 'converted'}")
  built = tool("build_tfrecord", f"--input_dir={tmp_path / 'converted'}",
               f"--output_dir={tmp_path / 'tfrecords'}", "--num_shards=2",
               "--validation_fraction=0.2", "--seed=1")
  assert "validation:" in built.stdout
  return tfrecord_reader.read_manifest(str(tmp_path / "tfrecords"))


@pytest.mark.slow
def test_tools_chain_from_a_local_archive(tmp_path, tool):
  tree = tmp_path / "tree" / "GTSRB" / "Final_Training"
  _, pixels = builders.write_training_layout(str(tree), builders.SMOOTH)
  archive = tmp_path / "tiny.zip"
  _zip_tree(str(tmp_path / "tree" / "GTSRB"), archive)

  manifest = _run_chain(tool, tmp_path, archive)

  counts = [manifest["splits"][s]["count"] for s in ("train", "validation")]
  assert sum(counts) == len(pixels) and min(counts) > 0


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(SHARED_ZIP),
                    reason="../shared/gtsrb archive not present")
def test_tools_chain_on_real_gtsrb_classes(tmp_path, tool):
  classes = (0, 19, 37)  # The smallest classes: 210 images each.
  folders = tuple(f"GTSRB/Final_Training/Images/{c:05d}/" for c in classes)
  archive = tmp_path / "subset.zip"  # The official layout, 3 classes only.
  with zipfile.ZipFile(SHARED_ZIP) as full, zipfile.ZipFile(
      archive, "w") as subset:
    for info in full.infolist():
      if info.filename.startswith(folders):
        subset.writestr(info, full.read(info))

  manifest = _run_chain(tool, tmp_path, archive)

  for split in ("train", "validation"):
    per_class = manifest["splits"][split]["per_class"]
    assert all(per_class[c] > 0 for c in classes)
    assert sum(per_class) == manifest["splits"][split]["count"]
  assert sum(manifest["splits"][s]["count"]
             for s in ("train", "validation")) == 630
  assert manifest["image_size_stats"]["max_width"] == 32


def _epochs(out, cache, num_epochs=3):
  """Each epoch's (label, image sum) rows, in order, of a repeatable
  unaugmented training read, and whether the graph caches."""
  count = tfrecord_reader.split_count(tfrecord_reader.read_manifest(out),
                                      "train")
  with tf.Graph().as_default() as graph:
    dataset = tfrecord_reader.make_dataset(
        out, "train", 16, batch_size=count, is_training=True,
        num_epochs=num_epochs, seed=5, cache=cache, crop_roi=True)
    batch = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
    with tf.compat.v1.Session() as sess:
      epochs = [sess.run(batch) for _ in range(num_epochs)]
  return [[(int(y), round(float(x.sum()), 2)) for x, y in zip(*e)]
          for e in epochs], _caches(graph)


def _caches(graph):
  """Whether a graph's datasets (in its one-shot iterators' functions)
  cache."""
  graph_def = graph.as_graph_def()
  return any(n.op.startswith("CacheDataset") for n in graph_def.node) or any(
      n.op.startswith("CacheDataset") for f in graph_def.library.function
      for n in f.node_def)


def test_a_repeated_split_is_decoded_once_and_reshuffled_each_epoch(
    converted, tmp_path):
  source, _ = converted
  out = str(tmp_path / "tfrecords")
  manifest = tfrecord_writer.build(source, out, num_shards=2,
                                   validation_fraction=0.3)
  # 16x16 sources: well within the limit, so a repeated read caches.
  assert tfrecord_reader.decoded_bytes(manifest, "train") == (
      manifest["splits"]["train"]["count"] * 16 * 16 * 3)
  cached, is_cached = _epochs(out, cache=None)
  uncached, not_cached = _epochs(out, cache=False)
  assert is_cached and not not_cached
  # The same images (cropped, resized) either way, every epoch...
  assert all(sorted(e) == sorted(uncached[0]) for e in cached + uncached)
  # ...in a new order each epoch, and the same orders again from the seed.
  assert len({tuple(e) for e in cached}) == 3
  assert _epochs(out, cache=None)[0] == cached
  # Read once (evaluation): nothing is held.
  with tf.Graph().as_default() as graph:
    tf.compat.v1.data.make_one_shot_iterator(tfrecord_reader.make_dataset(
        out, "validation", 16, batch_size=4))
    assert not _caches(graph)
