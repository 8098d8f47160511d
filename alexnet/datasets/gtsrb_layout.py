"""The official GTSRB layout: its folders and ground-truth CSV files.

  GTSRB/Final_Training/Images/000NN/TTTTT_FFFFF.ppm + 000NN/GT-000NN.csv
  GTSRB/Final_Test/Images/NNNNN.ppm + GT-final_test.csv (from
  GTSRB_Final_Test_GT.zip; the images archive has only the unlabeled
  GT-final_test.test.csv)

The CSV files (`GT-000NN.csv`, `GT-final_test.csv`) are

Semicolon-separated with a header row:
`Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId`. The official files
use CRLF line ends; LF is accepted too. ROI corners are inclusive pixel
coordinates. The test set's unlabeled `GT-final_test.test.csv` has no ClassId
column, so `class_id` is None there.
"""

import collections
import csv
import io
import os

from alexnet.core.errors import UserError
from alexnet.core.atomic_files import atomic_write

ROOT_DIR = "GTSRB"
TRAINING_IMAGES = ("Final_Training", "Images")
TEST_IMAGES = ("Final_Test", "Images")
TEST_GT_CSV = "GT-final_test.csv"
UNLABELED_TEST_CSV = "GT-final_test.test.csv"

HEADER = ("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2",
          "ClassId")

GTRow = collections.namedtuple(
    "GTRow", "filename width height roi_x1 roi_y1 roi_x2 roi_y2 class_id")


def train_csv_name(class_id):
  """`GT-000NN.csv`, the CSV inside class folder `000NN`."""
  return f"GT-{class_id:05d}.csv"


def read_gt_csv(path):
  """Returns the GTRows of one ground-truth CSV; UserError names a bad line."""
  try:
    with open(path, newline="") as f:
      text = f.read()
  except FileNotFoundError:
    raise UserError(f"{path}: ground-truth CSV not found; each class folder "
                    "needs its GT-000NN.csv") from None
  except UnicodeDecodeError:
    raise UserError(f"{path}: not a text CSV file") from None
  lines = [line for line in io.StringIO(text, newline=None).read().splitlines()
           if line.strip()]
  if not lines:
    raise UserError(f"{path}: empty ground-truth CSV")
  header = [h.strip() for h in lines[0].split(";")]
  if tuple(header[:7]) != HEADER[:7]:
    raise UserError(f"{path}: header {';'.join(header)!r} is not GTSRB's "
                    f"{';'.join(HEADER)!r}")
  labeled = len(header) > 7 and header[7] == "ClassId"
  rows = []
  for lineno, record in enumerate(csv.reader(lines[1:], delimiter=";"), 2):
    try:
      values = [int(v) for v in record[1:8 if labeled else 7]]
      rows.append(GTRow(record[0].strip(), *values[:6],
                        values[6] if labeled else None))
    except (ValueError, IndexError):
      raise UserError(f"{path}:{lineno}: malformed row {';'.join(record)!r}; "
                      "expected " + ";".join(HEADER)) from None
  return rows


def write_gt_csv(path, rows):
  """Writes GTRows atomically in the official format (CRLF line ends)."""
  out = io.StringIO()
  labeled = all(r.class_id is not None for r in rows)
  out.write(";".join(HEADER if labeled else HEADER[:7]) + "\r\n")
  for r in rows:
    fields = list(r) if labeled else list(r)[:7]
    out.write(";".join(str(v) for v in fields) + "\r\n")
  atomic_write(path, out.getvalue())


def find_images(folder, layout="train"):
  """The Final_Training/Images (layout "train") or Final_Test/Images
  ("test") folder at or below `folder`, or None."""
  subdir = TRAINING_IMAGES if layout == "train" else TEST_IMAGES
  for candidate in (folder, os.path.join(folder, subdir[1]),
                    os.path.join(folder, *subdir),
                    os.path.join(folder, ROOT_DIR, *subdir)):
    marker = "00000" if layout == "train" else TEST_GT_CSV
    if os.path.exists(os.path.join(candidate, marker)):
      return candidate
  return None


def check_images_dir(path, what, expected):
  """UserError unless `path` (the `what`, e.g. "test directory") is a
  directory; `expected` names the GTSRB folder to pass instead, below
  .../GTSRB/. An archive given for it is named as one to extract first."""
  if os.path.isfile(path):
    raise UserError(f"{what} {path} is a file: extract an archive with "
                    "tools/download_gtsrb.py --archive=FILE --output_dir=DIR, "
                    f"then pass DIR/GTSRB/{expected}")
  if not os.path.isdir(path):
    raise UserError(f"{what} {path} does not exist; pass "
                    f".../GTSRB/{expected}")


def read_test_folder(test_dir):
  """The labeled GTRows of a GTSRB final-test image folder."""
  csv_path = os.path.join(test_dir, TEST_GT_CSV)
  check_images_dir(test_dir, "test directory", "Final_Test/Images")
  if not os.path.exists(csv_path):
    raise UserError(f"{test_dir} has no {TEST_GT_CSV}: extract it from "
                    "GTSRB_Final_Test_GT.zip into that folder")
  rows = read_gt_csv(csv_path)
  if any(r.class_id is None for r in rows):
    raise UserError(f"{csv_path} has no ClassId column: use the labeled "
                    f"{TEST_GT_CSV} from GTSRB_Final_Test_GT.zip")
  return rows


def crop_roi(image, row):
  """The sign's ROI of an [H, W, C] image array (the corners are inclusive)."""
  return image[row.roi_y1:row.roi_y2 + 1, row.roi_x1:row.roi_x2 + 1]
