"""GTSRB folders -> class-named JPEG folders, labels.txt and annotations.csv."""

import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from alexnet.datasets import signnames
from alexnet.datasets import jpeg_folders
from alexnet.datasets.gtsrb_layout import read_gt_csv, write_gt_csv
from alexnet.core.errors import UserError
from tests import builders

JPEG_TOLERANCE = 4.0  # Mean absolute difference, 0..255, at quality 95.


def _tree_digest(root):
  digest = hashlib.sha256()
  for folder, _, files in sorted(os.walk(root)):
    for name in sorted(files):
      path = os.path.join(folder, name)
      digest.update(path.encode())
      with open(path, "rb") as f:
        digest.update(f.read())
  return digest.hexdigest()


def _jpeg_pixels(path):
  with Image.open(path) as image:
    return np.asarray(image.convert("RGB"), np.float32)


@pytest.mark.parametrize("line_end", ["\r\n", "\n"])
def test_training_tree_converts_with_labels_tracks_and_rois(
    training_tree, tmp_path, line_end):
  images_dir, pixels = training_tree
  for folder in os.listdir(images_dir):  # Rewrite every CSV with line_end.
    csv_path = os.path.join(images_dir, folder, f"GT-{folder}.csv")
    with open(csv_path, newline="") as f:
      text = f.read()
    with open(csv_path, "w", newline="") as f:
      f.write(text.replace("\r\n", line_end))
  before = _tree_digest(images_dir)
  out = str(tmp_path / "converted")

  result = jpeg_folders.convert(images_dir, out)

  assert (result.split, result.num_images, result.skipped) == (
      "train", len(pixels), [])
  annotations = jpeg_folders.read_annotations(out)
  assert len(annotations) == len(pixels)
  for a in annotations:
    folder, name = a.file.split("/")
    assert folder == signnames.folder_name(a.class_id)
    key = f"{a.class_id}/{name[:-4]}"
    assert a.track == int(name[:5])
    assert (a.width, a.height) == (16, 16)
    assert (a.roi_x1, a.roi_y1, a.roi_x2, a.roi_y2) == (2, 3, 13, 14)
    diff = np.abs(_jpeg_pixels(os.path.join(out, a.file)) - pixels[key])
    assert diff.mean() < JPEG_TOLERANCE
  with open(os.path.join(out, jpeg_folders.LABELS_TXT)) as f:
    labels = [line.rstrip("\n").split("\t") for line in f]
  assert len(labels) == signnames.NUM_CLASSES
  assert labels[14] == ["14", signnames.folder_name(14), "Stop"]
  assert _tree_digest(images_dir) == before  # Inputs untouched.


def test_worker_processes_write_the_same_output(training_tree, tmp_path,
                                                monkeypatch):
  images_dir, _ = training_tree
  single = str(tmp_path / "single")
  jpeg_folders.convert(images_dir, single, num_workers=1)
  monkeypatch.setattr(jpeg_folders, "_MIN_JOBS_PER_POOL", 1)  # Pool even for few.
  pooled = str(tmp_path / "pooled")
  jpeg_folders.convert(images_dir, pooled, num_workers=2)
  annotations = jpeg_folders.read_annotations(pooled)
  assert annotations == jpeg_folders.read_annotations(single)
  for a in annotations:
    with open(os.path.join(single, a.file), "rb") as f1, open(
        os.path.join(pooled, a.file), "rb") as f2:
      assert f1.read() == f2.read()


def test_crop_roi_stores_only_the_roi(training_tree, tmp_path):
  images_dir, pixels = training_tree
  out = str(tmp_path / "converted")
  jpeg_folders.convert(images_dir, out, crop_roi=True)
  x1, y1, x2, y2 = builders.roi(16, 16)
  a = jpeg_folders.read_annotations(out)[0]
  assert (a.width, a.height) == (x2 - x1 + 1, y2 - y1 + 1)
  assert (a.roi_x1, a.roi_y1, a.roi_x2, a.roi_y2) == (0, 0, x2 - x1, y2 - y1)
  key = f"{a.class_id}/{a.file.split('/')[1][:-4]}"
  expected = pixels[key][y1:y2 + 1, x1:x2 + 1]
  assert np.abs(_jpeg_pixels(os.path.join(out, a.file)) -
                expected).mean() < JPEG_TOLERANCE


def test_final_test_layout_is_the_test_split(final_test_tree, tmp_path):
  images_dir, pixels = final_test_tree
  out = str(tmp_path / "converted_test")
  result = jpeg_folders.convert(images_dir, out)
  annotations = jpeg_folders.read_annotations(out)
  assert result.split == "test"
  assert {a.split for a in annotations} == {"test"}
  assert {a.track for a in annotations} == {-1}
  assert sorted(f"{a.class_id}/{a.file[-9:-4]}" for a in annotations) == sorted(
      pixels)


def _corrupt_image(images_dir):
  path = os.path.join(images_dir, "00014", "00001_00000.ppm")
  with open(path, "wb") as f:
    f.write(b"this is not an image")
  return path


def _truncated_image(images_dir):
  path = os.path.join(images_dir, "00014", "00001_00001.ppm")
  with open(path, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(data[:len(data) // 2])
  return path


def _missing_file(images_dir):
  path = os.path.join(images_dir, "00042", "00002_00001.ppm")
  os.remove(path)
  return path


def _folder_without_csv(images_dir):
  path = os.path.join(images_dir, "00000", "GT-00000.csv")
  os.remove(path)
  return os.path.join(images_dir, "00000")


def _unknown_class_in_csv(images_dir):
  path = os.path.join(images_dir, "00042", "GT-00042.csv")
  rows = read_gt_csv(path)
  write_gt_csv(path, rows[:-1] + [rows[-1]._replace(class_id=43)])
  return "43"


def _path_in_csv(images_dir):
  path = os.path.join(images_dir, "00014", "GT-00014.csv")
  rows = read_gt_csv(path)
  write_gt_csv(path, rows[:-1] + [rows[-1]._replace(
      filename="../00000/00000_00000.ppm")])
  return "../00000/00000_00000.ppm"


def _unknown_class_folder(images_dir):
  os.rename(os.path.join(images_dir, "00042"), os.path.join(images_dir, "00043"))
  return "00043"


# Each makes one bad input and returns what the error must name, and how many
# images survive with --skip_bad.
BAD_INPUTS = {
    "corrupt image": (_corrupt_image, 17),
    "truncated image": (_truncated_image, 17),
    "csv row naming a missing file": (_missing_file, 17),
    "class folder without its csv": (_folder_without_csv, 12),
    "unknown class id in csv": (_unknown_class_in_csv, 17),
    "unknown class folder": (_unknown_class_folder, 12),
    "csv row naming a path": (_path_in_csv, 17),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_error_or_skipped(training_tree, tmp_path, kind):
  images_dir, _ = training_tree
  make_bad, survivors = BAD_INPUTS[kind]
  named = make_bad(images_dir)
  before = _tree_digest(images_dir)
  out = str(tmp_path / "converted")

  with pytest.raises(UserError) as error:
    jpeg_folders.convert(images_dir, out)
  message = str(error.value)
  assert named in message and "--skip_bad" in message and "\n" not in message
  assert not os.path.exists(out)  # Nothing half-written.

  result = jpeg_folders.convert(images_dir, out, skip_bad=True)
  assert result.num_images == survivors
  assert len(result.skipped) == 1 and named in result.skipped[0]
  assert len(jpeg_folders.read_annotations(out)) == survivors
  assert _tree_digest(images_dir) == before


def test_empty_input_dir_is_refused(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(UserError, match="no class folders"):
    jpeg_folders.convert(str(empty), str(tmp_path / "out"), skip_bad=True)


def test_archive_as_input_dir_names_the_extracting_tool(tmp_path):
  archive = tmp_path / "GTSRB.zip"
  archive.write_bytes(b"PK")
  with pytest.raises(UserError, match="is a file: extract") as error:
    jpeg_folders.convert(str(archive), str(tmp_path / "out"))
  assert str(archive) in str(error.value) and "\n" not in str(error.value)
  assert not (tmp_path / "out").exists()


def test_complete_output_is_refused_unless_overwrite(training_tree, tmp_path):
  images_dir, pixels = training_tree
  out = str(tmp_path / "converted")
  jpeg_folders.convert(images_dir, out)
  with pytest.raises(UserError, match="--overwrite"):
    jpeg_folders.convert(images_dir, out)
  assert jpeg_folders.convert(images_dir, out, overwrite=True).num_images == len(
      pixels)


def test_output_inside_input_is_refused(training_tree):
  images_dir, _ = training_tree
  with pytest.raises(UserError, match="overlaps"):
    jpeg_folders.convert(images_dir, os.path.join(images_dir, "out"))


def test_convert_tool_reports_one_line_error_and_skip_summary(
    training_tree, tmp_path, tool):
  images_dir, pixels = training_tree
  corrupt = _corrupt_image(images_dir)
  out = tmp_path / "converted"

  failed = tool("convert_dataset", f"--input_dir={images_dir}",
                f"--output_dir={out}", check=False)
  assert failed.returncode == 1
  assert failed.stderr.strip().splitlines()[-1].startswith("error: ")
  assert corrupt in failed.stderr.strip().splitlines()[-1]

  done = tool("convert_dataset", f"--input_dir={images_dir}",
              f"--output_dir={out}", "--skip_bad", "--crop_roi")
  assert f"converted {len(pixels) - 1} train images" in done.stdout
  assert "skipped 1 bad inputs" in done.stdout and corrupt in done.stdout
