"""Turns GTSRB image folders into class-named JPEG folders with annotations.

Input is either the training layout (`Images/000NN/TTTTT_FFFFF.ppm` with
`GT-000NN.csv` per class folder) or the final-test layout (one folder of
`NNNNN.ppm` with `GT-final_test.csv`). Output, built whole in a temporary
directory and then renamed:

  OUT/14_stop/00003_00029.jpg   JPEG quality 95, optionally cropped to the ROI;
                                the TTTTT_FFFFF stem keeps the track
  OUT/labels.txt                `id<TAB>folder<TAB>sign name`, all 43 classes
  OUT/annotations.csv           one row per written image (see FIELDS)

The annotations are what tools/build_tfrecord.py reads: the split (`train`
for training-layout images, still to be split by track, or `test`), the class,
the track (-1 for test images) and the ROI in the written image's pixels.
"""

import collections
import concurrent.futures
import contextlib
import csv
import functools
import multiprocessing
import os

from PIL import Image
from tqdm import tqdm

from alexnet.datasets import signnames
from alexnet.datasets.gtsrb_layout import (check_images_dir, read_gt_csv,
                                           train_csv_name)
from alexnet.core.errors import UserError
from alexnet.core.atomic_files import atomic_dir

ANNOTATIONS_CSV = "annotations.csv"
LABELS_TXT = "labels.txt"
TEST_GT_CSV = "GT-final_test.csv"
UNLABELED_TEST_CSV = "GT-final_test.test.csv"
JPEG_QUALITY = 95
_MIN_JOBS_PER_POOL = 500  # Below this, starting workers costs more than it saves.

FIELDS = ("file", "split", "class_id", "track", "width", "height", "roi_x1",
          "roi_y1", "roi_x2", "roi_y2")
Annotation = collections.namedtuple("Annotation", FIELDS)

# One image to convert; `roi` is (x1, y1, x2, y2) inclusive, from the CSV.
_Task = collections.namedtuple("_Task", "source file split class_id track roi")

ConvertResult = collections.namedtuple(
    "ConvertResult", "output_dir split num_images skipped")


class _BadInputs:
  """Raises on a bad input, or with `skip` records it for the closing summary."""

  def __init__(self, skip):
    self.skip = skip
    self.messages = []

  def __call__(self, message):
    if not self.skip:
      raise UserError(f"{message}; fix or remove it, or pass --skip_bad to "
                      "skip such inputs")
    self.messages.append(message)


def _track_of(filename):
  """TTTTT of a training file TTTTT_FFFFF.ppm, or None if not so named."""
  stem = os.path.splitext(filename)[0]
  track, sep, frame = stem.partition("_")
  return int(track) if sep and track.isdigit() and frame.isdigit() else None


def _class_ok(class_id, where, bad):
  if 0 <= class_id < signnames.NUM_CLASSES:
    return True
  bad(f"{where}: unknown class id {class_id}, GTSRB has 0.."
      f"{signnames.NUM_CLASSES - 1}")
  return False


def _read_rows(csv_path, bad):
  try:
    return read_gt_csv(csv_path)
  except UserError as e:
    bad(str(e))
    return []


def _row_tasks(folder, csv_path, rows, split, bad, folder_class=None):
  tasks = []
  for row in rows:
    where = f"{csv_path} row {row.filename}"
    if row.class_id is None:
      raise UserError(f"{csv_path} has no ClassId column; use the labeled "
                      f"{TEST_GT_CSV} from GTSRB_Final_Test_GT.zip")
    if not _class_ok(row.class_id, where, bad):
      continue
    if folder_class is not None and row.class_id != folder_class:
      bad(f"{where}: ClassId {row.class_id} disagrees with its class folder "
          f"{folder} ({folder_class}); correct the row or move the image")
      continue
    if os.path.basename(row.filename) != row.filename or row.filename in (
        "", ".", ".."):
      bad(f"{where}: file name must name a file in {folder}, not a path")
      continue
    source = os.path.join(folder, row.filename)
    if not os.path.isfile(source):
      bad(f"{where}: image {source} does not exist")
      continue
    track = -1
    if split == "train":
      track = _track_of(row.filename)
      if track is None:
        bad(f"{where}: training image name is not TTTTT_FFFFF.ppm")
        continue
    stem = os.path.splitext(row.filename)[0]
    tasks.append(_Task(source,
                       f"{signnames.folder_name(row.class_id)}/{stem}.jpg",
                       split, row.class_id, track,
                       (row.roi_x1, row.roi_y1, row.roi_x2, row.roi_y2)))
  return tasks


def _training_tasks(input_dir, class_dirs, bad):
  tasks = []
  for name in class_dirs:
    folder = os.path.join(input_dir, name)
    if not _class_ok(int(name), folder, bad):
      continue
    csv_path = os.path.join(folder, train_csv_name(int(name)))
    if not os.path.isfile(csv_path):
      bad(f"class folder {folder} has no {train_csv_name(int(name))}")
      continue
    tasks += _row_tasks(folder, csv_path, _read_rows(csv_path, bad), "train",
                        bad, folder_class=int(name))
  return tasks


def find_tasks(input_dir, bad):
  """The images to convert, from the CSVs; reports bad inputs to `bad`."""
  check_images_dir(input_dir, "input directory",
                   "Final_Training/Images or .../Final_Test/Images")
  entries = sorted(os.listdir(input_dir))
  if TEST_GT_CSV in entries:
    csv_path = os.path.join(input_dir, TEST_GT_CSV)
    return "test", _row_tasks(input_dir, csv_path, _read_rows(csv_path, bad),
                              "test", bad)
  if UNLABELED_TEST_CSV in entries:
    raise UserError(f"{input_dir} has only the unlabeled {UNLABELED_TEST_CSV}: "
                    f"extract {TEST_GT_CSV} from GTSRB_Final_Test_GT.zip into it "
                    "(tools/download_gtsrb.py does)")
  class_dirs = [e for e in entries if e.isdigit()
                and os.path.isdir(os.path.join(input_dir, e))]
  if not class_dirs:
    raise UserError(f"{input_dir} holds no class folders 000NN and no "
                    f"{TEST_GT_CSV}; pass .../GTSRB/Final_Training/Images or "
                    ".../GTSRB/Final_Test/Images")
  return "train", _training_tasks(input_dir, class_dirs, bad)


def _convert_one(job):
  """Worker: writes one JPEG; returns (width, height, roi) or an error line."""
  task, output_dir, crop_roi = job
  try:
    with Image.open(task.source) as image:
      image = image.convert("RGB")  # Decodes fully: truncation shows here.
  except (OSError, SyntaxError, ValueError) as e:
    return f"{task.source}: unreadable image ({e})"
  width, height = image.size
  x1, y1, x2, y2 = task.roi
  x1, y1 = max(0, x1), max(0, y1)
  x2, y2 = min(width - 1, x2), min(height - 1, y2)
  if x2 < x1 or y2 < y1:
    return (f"{task.source}: ROI {task.roi} lies outside the "
            f"{width}x{height} image")
  if crop_roi:
    image = image.crop((x1, y1, x2 + 1, y2 + 1))
    width, height = image.size
    x1, y1, x2, y2 = 0, 0, width - 1, height - 1
  image.save(os.path.join(output_dir, task.file), "JPEG", quality=JPEG_QUALITY)
  return width, height, (x1, y1, x2, y2)


@contextlib.contextmanager
def _worker_map(num_workers, num_jobs):
  """An ordered, lazy map over `num_workers` processes (in-process for few).

  Workers are spawned, not forked: callers (tests, training set-up) may have
  TensorFlow's threads running, and forking those can deadlock.
  """
  if num_workers <= 1 or num_jobs < _MIN_JOBS_PER_POOL:
    yield map
    return
  pool = concurrent.futures.ProcessPoolExecutor(
      num_workers, mp_context=multiprocessing.get_context("spawn"))
  try:
    yield functools.partial(pool.map, chunksize=64)
  finally:
    # On an error, drop the queued work rather than finish it.
    pool.shutdown(wait=True, cancel_futures=True)


def _check_separate(input_dir, output_dir):
  src, dst = os.path.realpath(input_dir), os.path.realpath(output_dir)
  if src == dst or dst.startswith(src + os.sep) or src.startswith(dst + os.sep):
    raise UserError(f"output directory {output_dir} overlaps input {input_dir}; "
                    "choose a separate --output_dir (inputs are never modified)")


def write_labels(path):
  """labels.txt: `id<TAB>folder<TAB>sign name` for every class."""
  with open(path, "w") as f:
    for i, name in enumerate(signnames.SIGN_NAMES):
      f.write(f"{i}\t{signnames.folder_name(i)}\t{name}\n")


def write_annotations(path, annotations):
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(FIELDS)
    writer.writerows(annotations)


def read_annotations(converted_dir):
  """The Annotations of a converted directory; UserError if missing/corrupt."""
  path = os.path.join(converted_dir, ANNOTATIONS_CSV)
  advice = "run tools/convert_dataset.py to make it"
  try:
    with open(path, newline="") as f:
      rows = list(csv.reader(f))
  except FileNotFoundError:
    raise UserError(f"{converted_dir} has no {ANNOTATIONS_CSV}: it is not a "
                    f"converted dataset; {advice}") from None
  except UnicodeDecodeError:
    raise UserError(f"{path} is not a text CSV; {advice}") from None
  if not rows or tuple(rows[0]) != FIELDS:
    raise UserError(f"{path}: header is not {','.join(FIELDS)}; {advice}")
  annotations = []
  for lineno, row in enumerate(rows[1:], 2):
    try:
      annotations.append(Annotation(row[0], row[1],
                                    *[int(v) for v in row[2:]]))
      if len(row) != len(FIELDS) or row[1] not in ("train", "test"):
        raise ValueError
    except (ValueError, IndexError):
      raise UserError(f"{path}:{lineno}: malformed row {','.join(row)!r}; "
                      f"{advice}") from None
  if not annotations:
    raise UserError(f"{path} lists no images; {advice}")
  return annotations


def convert(input_dir, output_dir, crop_roi=False, skip_bad=False,
            overwrite=False, num_workers=None):
  """Converts one GTSRB image folder; see the module docstring.

  Args:
    input_dir: `.../Final_Training/Images` or `.../Final_Test/Images`.
    output_dir: gets the class folders, labels.txt and annotations.csv.
    crop_roi: store only each image's ROI.
    skip_bad: skip bad images/rows/folders (listed in the result) instead
      of failing on the first.
    overwrite: replace an existing non-empty `output_dir`.
    num_workers: processes for the JPEG work; default: one per core.

  Returns:
    ConvertResult(output_dir, split, num_images, skipped messages).
  """
  _check_separate(input_dir, output_dir)
  bad = _BadInputs(skip_bad)
  split, tasks = find_tasks(input_dir, bad)
  if not tasks:
    raise UserError(f"{input_dir}: no usable images found "
                    f"({len(bad.messages)} skipped as bad)")
  seen = {}
  for task in tasks:
    if task.file in seen:
      raise UserError(f"{task.source} and {seen[task.file]} would both be "
                      f"written as {task.file}; remove the duplicate row")
    seen[task.file] = task.source
  annotations = {}
  with atomic_dir(output_dir, overwrite=overwrite) as tmp:
    for class_id in sorted({t.class_id for t in tasks}):
      os.makedirs(os.path.join(tmp, signnames.folder_name(class_id)))
    jobs = [(t, tmp, crop_roi) for t in tasks]
    with _worker_map(num_workers or os.cpu_count(), len(jobs)) as map_fn:
      results = map_fn(_convert_one, jobs)
      for task, result in tqdm(zip(tasks, results), total=len(tasks),
                               desc="convert", unit="img"):
        if isinstance(result, str):
          bad(result)
          continue
        width, height, roi = result
        annotations[task.file] = Annotation(task.file, split, task.class_id,
                                            task.track, width, height, *roi)
    if not annotations:
      raise UserError(f"{input_dir}: every image was bad "
                      f"({len(bad.messages)} skipped)")
    write_labels(os.path.join(tmp, LABELS_TXT))
    write_annotations(os.path.join(tmp, ANNOTATIONS_CSV),
                      [annotations[f] for f in sorted(annotations)])
  return ConvertResult(output_dir, split, len(annotations), bad.messages)
