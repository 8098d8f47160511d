"""Synthetic GTSRB: official layout, CSVs, determinism, tool, contact sheet."""

import hashlib
import itertools
import os
import re

import numpy as np
import pytest
from PIL import Image

from alexnet.datasets import synthetic_gtsrb
from alexnet.datasets.gtsrb_layout import read_gt_csv, train_csv_name
from alexnet.datasets.sign_drawing import render_sign
from alexnet.core.errors import UserError
from alexnet.datasets.signnames import NUM_CLASSES

TRACKS, FRAMES, SEED = 2, 2, 7


@pytest.fixture(scope="module")
def train_set(tmp_path_factory):
  out = tmp_path_factory.mktemp("synthetic") / "train"
  summary = synthetic_gtsrb.generate(str(out), tracks_per_class=TRACKS,
                                     frames_per_track=FRAMES, seed=SEED,
                                     processes=1)
  return out, summary


def _digests(root):
  """{relative path: sha256} of every file under root."""
  out = {}
  for folder, _, names in os.walk(root):
    for name in names:
      path = os.path.join(folder, name)
      with open(path, "rb") as f:
        out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
  return out


def _sheet_size(samples_per_class):
  step = synthetic_gtsrb.CELL_PX + synthetic_gtsrb.GAP_PX
  return (synthetic_gtsrb.LABEL_PX + samples_per_class * step
          + synthetic_gtsrb.GAP_PX, NUM_CLASSES * step + synthetic_gtsrb.GAP_PX)


def _check_rows(folder, rows):
  """Every row names an existing PPM of its size with a ROI well inside it."""
  for row in rows:
    with Image.open(os.path.join(folder, row.filename)) as image:
      assert (image.format, image.mode) == ("PPM", "RGB")
      assert image.size == (row.width, row.height), row
    # Official images keep a border of 10%, at least 5 px, around the sign.
    assert 5 <= row.roi_x1 < row.roi_x2 <= row.width - 6, row
    assert 5 <= row.roi_y1 < row.roi_y2 <= row.height - 6, row


def test_train_layout_has_the_official_folders_names_and_csvs(train_set):
  out, summary = train_set
  images = out / "GTSRB" / "Final_Training" / "Images"
  assert summary["images_dir"] == str(images)
  assert sorted(os.listdir(images)) == [f"{c:05d}" for c in range(NUM_CLASSES)]
  expected = [f"{t:05d}_{f:05d}.ppm"
              for t, f in itertools.product(range(TRACKS), range(FRAMES))]
  for c in range(NUM_CLASSES):
    names = sorted(os.listdir(images / f"{c:05d}"))
    assert names == sorted(expected + [train_csv_name(c)])
    assert all(re.fullmatch(r"\d{5}_\d{5}\.ppm", n) for n in expected)
  assert summary["images_per_class"] == [TRACKS * FRAMES] * NUM_CLASSES
  assert summary["total"] == NUM_CLASSES * TRACKS * FRAMES


def test_csv_rows_name_existing_files_of_their_size_with_rois_inside(
    train_set):
  out, summary = train_set
  widths = []
  for c in range(NUM_CLASSES):
    folder = os.path.join(summary["images_dir"], f"{c:05d}")
    rows = read_gt_csv(os.path.join(folder, train_csv_name(c)))
    assert sorted(r.filename for r in rows) == sorted(
        n for n in os.listdir(folder) if n.endswith(".ppm"))
    assert {r.class_id for r in rows} == {c}
    _check_rows(folder, rows)
    widths += [r.width for r in rows]
    # A track approaches its sign: its last frame is larger than its first.
    for t in range(TRACKS):
      track = sorted((r for r in rows if r.filename.startswith(f"{t:05d}_")),
                     key=lambda r: r.filename)
      assert (track[-1].roi_x2 - track[-1].roi_x1
              > track[0].roi_x2 - track[0].roi_x1)
  assert min(widths) >= 15 and len(set(widths)) > 20
  assert 25 <= np.median(widths) <= 70  # Mostly small, like GTSRB.


def test_same_seed_gives_identical_bytes_whatever_the_process_count(
    train_set, tmp_path):
  out, _ = train_set
  synthetic_gtsrb.generate(str(tmp_path / "again"), tracks_per_class=TRACKS,
                           frames_per_track=FRAMES, seed=SEED, processes=2)
  assert _digests(tmp_path / "again") == _digests(out)


def test_another_seed_gives_other_images(train_set, tmp_path):
  out, _ = train_set
  synthetic_gtsrb.generate(str(tmp_path / "other"), tracks_per_class=1,
                           frames_per_track=1, seed=SEED + 1, processes=1)
  first = os.path.join("GTSRB", "Final_Training", "Images", "{:05d}",
                       "00000_00000.ppm")
  theirs, ours = _digests(tmp_path / "other"), _digests(out)
  assert all(theirs[first.format(c)] != ours[first.format(c)]
             for c in range(NUM_CLASSES))


def test_test_layout_has_shuffled_labeled_images(train_set, tmp_path):
  tracks, frames = 1, 3
  summary = synthetic_gtsrb.generate(
      str(tmp_path / "test"), tracks_per_class=tracks, frames_per_track=frames,
      seed=SEED, layout="test", processes=1)
  images = tmp_path / "test" / "GTSRB" / "Final_Test" / "Images"
  assert summary["images_dir"] == str(images)
  assert sorted(os.listdir(tmp_path / "test" / "GTSRB")) == ["Final_Test"]
  names = [f"{i:05d}.ppm" for i in range(NUM_CLASSES * tracks * frames)]
  assert sorted(os.listdir(images)) == sorted(names + ["GT-final_test.csv"])
  rows = read_gt_csv(images / "GT-final_test.csv")
  assert [r.filename for r in rows] == names
  labels = [r.class_id for r in rows]
  assert np.bincount(labels).tolist() == [tracks * frames] * NUM_CLASSES
  assert labels != sorted(labels)  # Shuffled, as in the official test set.
  _check_rows(images, rows)
  # Same seed, other layout: other sign instances, never a training image.
  train_images = set(_digests(train_set[0]).values())
  assert not train_images & set(_digests(images).values())


def test_tool_refuses_an_existing_output_and_changes_nothing(tool, train_set):
  out, _ = train_set
  before = _digests(out)
  siblings = sorted(os.listdir(out.parent))
  proc = tool("make_synthetic_gtsrb", f"--output_dir={out}",
              "--tracks_per_class=1", "--frames_per_track=1", check=False)
  assert proc.returncode == 1
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
  assert str(out) in lines[0] and "--overwrite" in lines[0]
  assert _digests(out) == before
  assert sorted(os.listdir(out.parent)) == siblings


def test_tool_end_to_end(tool, tmp_path):
  out = tmp_path / "cli"
  proc = tool("make_synthetic_gtsrb", f"--output_dir={out}",
              "--tracks_per_class=1", "--frames_per_track=1", "--seed=3",
              "--processes=1")
  assert f"wrote {NUM_CLASSES} images" in proc.stdout
  assert os.path.isfile(out / "contact_sheet.png")
  assert len(read_gt_csv(out / "GTSRB" / "Final_Training" / "Images" / "00014"
                         / "GT-00014.csv")) == 1
  tool("make_synthetic_gtsrb", f"--output_dir={out}", "--tracks_per_class=1",
       "--frames_per_track=2", "--layout=test", "--overwrite", "--processes=1")
  assert sorted(os.listdir(out / "GTSRB")) == ["Final_Test"]
  assert len(read_gt_csv(out / "GTSRB" / "Final_Test" / "Images"
                         / "GT-final_test.csv")) == 2 * NUM_CLASSES


def test_tool_rejects_bad_counts_in_one_line(tool, tmp_path):
  proc = tool("make_synthetic_gtsrb", f"--output_dir={tmp_path / 'x'}",
              "--frames_per_track=0", check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines() == [
      "error: flag --frames_per_track=0: 0 is out of range: it must be >= 1"]
  assert not os.path.exists(tmp_path / "x")
  with pytest.raises(UserError, match="seed=-1"):
    synthetic_gtsrb.generate(str(tmp_path / "x"), seed=-1)


def test_contact_sheet_is_a_png_with_a_row_per_class(train_set, tmp_path):
  out, summary = train_set
  with Image.open(summary["contact_sheet"]) as sheet:
    assert sheet.format == "PNG"
    assert sheet.size == _sheet_size(8)
  # Also from the images folder itself, with more samples than a class has:
  # the cells past the class's images stay blank.
  path = synthetic_gtsrb.contact_sheet(summary["images_dir"],
                                       str(tmp_path / "s.png"),
                                       samples_per_class=TRACKS * FRAMES + 1)
  with Image.open(path) as sheet:
    assert sheet.size == _sheet_size(TRACKS * FRAMES + 1)
    pixels = np.asarray(sheet.convert("L"))
  cell = synthetic_gtsrb.CELL_PX
  step = cell + synthetic_gtsrb.GAP_PX
  for c in (0, NUM_CLASSES - 1):
    top = synthetic_gtsrb.GAP_PX + c * step
    lefts = [synthetic_gtsrb.LABEL_PX + j * step
             for j in range(TRACKS * FRAMES + 1)]
    cells = [pixels[top:top + cell, left:left + cell] for left in lefts]
    assert all(cell.std() > 5 for cell in cells[:-1])
    assert (cells[-1] == 255).all()


def test_contact_sheet_rejects_a_folder_that_is_not_gtsrb(tmp_path):
  with pytest.raises(UserError, match=re.escape(str(tmp_path))):
    synthetic_gtsrb.contact_sheet(str(tmp_path), str(tmp_path / "s.png"))
  assert not os.path.exists(tmp_path / "s.png")


def test_render_sign_is_a_clean_sign_different_for_every_class():
  size = 48
  signs = []
  for c in range(NUM_CLASSES):
    image = render_sign(c, size)
    assert (image.mode, image.size) == ("RGBA", (size, size))
    alpha = np.asarray(image)[..., 3]
    assert alpha[0, 0] == 0 and alpha[size // 2, size // 2] == 255
    signs.append(np.asarray(image.convert("RGBa"), np.float32))
  # The closest pairs (30 and 80, 60 and 80, 41 and 42) still differ
  # clearly in about 20 pixels or more; two classes drawn alike would make 0.
  differing = [(np.abs(a - b).max(axis=-1) > 64).sum()
               for a, b in itertools.combinations(signs, 2)]
  assert min(differing) >= 10
  with pytest.raises(ValueError):
    render_sign(NUM_CLASSES, size)


def _features(folder, rows):
  """The ROI of each image at 12x12, standardized: a crude pixel descriptor."""
  features = []
  for r in rows:
    with Image.open(os.path.join(folder, r.filename)) as image:
      roi = image.crop((r.roi_x1, r.roi_y1, r.roi_x2 + 1, r.roi_y2 + 1))
      x = np.asarray(roi.resize((12, 12), Image.Resampling.BILINEAR),
                     np.float32).ravel()
    features.append((x - x.mean()) / (x.std() + 1e-6))
  return np.array(features)


def test_nearest_centroid_on_pixels_tells_the_classes_apart(train_set,
                                                              tmp_path):
  _, summary = train_set
  x, y = [], []
  for c in range(NUM_CLASSES):
    folder = os.path.join(summary["images_dir"], f"{c:05d}")
    x.append(_features(folder, read_gt_csv(os.path.join(folder,
                                                        train_csv_name(c)))))
    y += [c] * len(x[-1])
  centroids = np.array([f.mean(axis=0) for f in x])
  test = synthetic_gtsrb.generate(str(tmp_path / "test"), tracks_per_class=1,
                                  frames_per_track=2, seed=SEED + 1,
                                  layout="test", processes=1)
  rows = read_gt_csv(os.path.join(test["images_dir"], "GT-final_test.csv"))
  features = _features(test["images_dir"], rows)
  predicted = np.argmin(((features[:, None] - centroids[None]) ** 2).sum(-1),
                        axis=1)
  accuracy = np.mean(predicted == [r.class_id for r in rows])
  assert accuracy > 10 / NUM_CLASSES  # Chance is 1 / 43.
