"""Fetches and unpacks the official GTSRB archives.

Downloads resume: bytes go to `NAME.part` and a later call asks the server for
the rest with an HTTP Range request, so an interrupted 263 MB download is not
started over. A finished file is checked against its published checksum before
it is renamed to `NAME`. Extraction refuses archive members that would land
outside the output directory.
"""

import collections
import hashlib
import os
import shutil
import time
import urllib.error
import urllib.request
import zipfile

from tqdm import tqdm

from alexnet.core.errors import UserError
from alexnet.core.atomic_files import atomic_dir

BASE_URL = ("https://sid.erda.dk/public/archives/"
            "daaeac0d7ce1152aea9b61d9f1e19370/")

# `checksum` is "ALGORITHM:HEXDIGEST" (any hashlib algorithm) or None.
Archive = collections.namedtuple("Archive", "name url checksum")

# MD5 sums as published with the archives (and used by torchvision, among
# others, for the same files).
GTSRB_ARCHIVES = (
    Archive("GTSRB_Final_Training_Images.zip",
            BASE_URL + "GTSRB_Final_Training_Images.zip",
            "md5:f33fd80ac59bff73c82d25ab499e03a3"),
    Archive("GTSRB_Final_Test_Images.zip",
            BASE_URL + "GTSRB_Final_Test_Images.zip",
            "md5:c7e4e6327067d32654124b0fe9e82185"),
    Archive("GTSRB_Final_Test_GT.zip",
            BASE_URL + "GTSRB_Final_Test_GT.zip",
            "md5:fe31e9c9270bbcd7b84b7f21a9d9d9e5"),
)

# The extracted tree: DIR/GTSRB/Final_Training/Images/000NN/... and
# DIR/GTSRB/Final_Test/Images/NNNNN.ppm with GT-final_test.csv beside them.
ROOT_DIR = "GTSRB"
TRAINING_IMAGES = ("Final_Training", "Images")
TEST_IMAGES = ("Final_Test", "Images")
TEST_GT_CSV = "GT-final_test.csv"

_CHUNK = 1 << 16


def file_checksum(path, algorithm):
  """Hex digest of a file, read in chunks."""
  digest = hashlib.new(algorithm)
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()


def _parse_checksum(checksum, path):
  algorithm, _, expected = checksum.partition(":")
  if algorithm not in hashlib.algorithms_available or not expected:
    raise UserError(f"checksum {checksum!r} for {path}: write it as "
                    "ALGORITHM:HEXDIGEST, e.g. sha256:8cf5...")
  return algorithm, expected.lower()


def checksum_mismatch(path, checksum):
  """None if `path` matches "ALGORITHM:HEXDIGEST", else a line saying how not."""
  algorithm, expected = _parse_checksum(checksum, path)
  actual = file_checksum(path, algorithm)
  if actual == expected:
    return None
  return f"{algorithm} is {actual}, expected {expected}"


def verify_checksum(path, checksum):
  """Raises UserError unless `path` matches "ALGORITHM:HEXDIGEST"."""
  mismatch = checksum_mismatch(path, checksum)
  if mismatch:
    raise UserError(f"{path}: {mismatch}; the file is corrupt or not the one "
                    "published: get it again")


def _open(url, offset, timeout):
  request = urllib.request.Request(url)
  if offset:
    request.add_header("Range", f"bytes={offset}-")
  try:
    return urllib.request.urlopen(request, timeout=timeout)
  except urllib.error.HTTPError as e:
    if e.code == 416 and offset:
      # The .part already holds every byte (or more): let the checksum judge.
      return None
    raise UserError(f"{url}: HTTP {e.code} {e.reason}; check the URL or try "
                    "again later") from None
  except (urllib.error.URLError, OSError) as e:
    raise UserError(f"{url}: cannot connect ({getattr(e, 'reason', e)}); check "
                    "the network or pass --archive with a local copy") from None


def _fetch_into(url, part, timeout):
  """Appends the rest of `url` to `part`; returns True once it is complete."""
  offset = os.path.getsize(part) if os.path.exists(part) else 0
  response = _open(url, offset, timeout)
  if response is None:
    return True
  with response:
    if offset and response.status != 206:
      offset = 0  # The server ignored Range: start over.
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length is not None else None
    received = offset
    with open(part, "ab" if offset else "wb") as f, tqdm(
        total=total, initial=offset, unit="B", unit_scale=True,
        unit_divisor=1024, desc=os.path.basename(part)[:-len(".part")]) as bar:
      while True:
        try:
          chunk = response.read(_CHUNK)
        except (OSError, ValueError):  # Connection reset or cut mid-read.
          break
        if not chunk:
          break
        f.write(chunk)
        received += len(chunk)
        bar.update(len(chunk))
  return total is None or received >= total


def download_file(url, path, checksum=None, retries=5, timeout=60):
  """Downloads `url` to `path`, resuming `path.part`; verifies `checksum`.

  An existing `path` that matches the checksum is kept as it is. A connection
  that drops mid-file is retried (from where it stopped) up to `retries`
  times; the `.part` file stays for a later run if every retry fails.
  """
  if os.path.exists(path):
    if checksum is None or not checksum_mismatch(path, checksum):
      return path
    os.remove(path)  # Our own earlier output, and wrong: fetch it again.
  part = path + ".part"
  for attempt in range(retries + 1):
    if _fetch_into(url, part, timeout):
      break
    if attempt < retries:
      time.sleep(min(2 ** attempt, 30) * 0.1)
  else:
    raise UserError(f"{url}: connection kept dropping; {part} keeps the "
                    f"{os.path.getsize(part)} bytes so far: run again to resume")
  mismatch = checksum and checksum_mismatch(part, checksum)
  if mismatch:
    os.remove(part)  # Resuming a corrupt file would never succeed.
    raise UserError(f"{url}: downloaded file does not match its checksum "
                    f"({mismatch}); it was deleted: run again, or check the URL")
  os.replace(part, path)
  return path


def _member_target(name):
  """Path parts of a member below DIR/GTSRB; None if it names no file."""
  parts = name.replace("\\", "/").split("/")
  if parts[0] == ROOT_DIR:
    parts = parts[1:]
  elif parts[-1] == TEST_GT_CSV and len(parts) == 1:
    # The ground-truth zip holds the CSV alone: put it beside the test images.
    parts = list(TEST_IMAGES) + parts
  parts = [p for p in parts if p not in ("", ".")]
  return parts or None


def _safe_members(zip_path, archive):
  """(member, relative target parts) pairs; UserError on any escaping path."""
  pairs = []
  for info in archive.infolist():
    name = info.filename
    if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split(
        "/") or (len(name) > 1 and name[1] == ":"):
      raise UserError(f"{zip_path}: member {name!r} would be written outside "
                      "the output directory; refusing this archive")
    if info.is_dir():
      continue
    parts = _member_target(name)
    if parts:
      pairs.append((info, parts))
  return pairs


def extract_archives(zip_paths, output_dir, overwrite=False):
  """Extracts GTSRB zips into `output_dir/GTSRB`, built whole then renamed.

  Returns the path of `output_dir/GTSRB`.
  """
  target = os.path.join(output_dir, ROOT_DIR)
  for zip_path in zip_paths:
    if not zipfile.is_zipfile(zip_path):
      raise UserError(f"{zip_path}: not a zip archive; pass a GTSRB zip file")
  with atomic_dir(target, overwrite=overwrite) as tmp:
    for zip_path in zip_paths:
      with zipfile.ZipFile(zip_path) as archive:
        jobs = _safe_members(zip_path, archive)
        for info, parts in tqdm(jobs, desc=f"extract {os.path.basename(zip_path)}",
                                unit="file"):
          dest = os.path.join(tmp, *parts)
          os.makedirs(os.path.dirname(dest), exist_ok=True)
          try:
            with archive.open(info) as src, open(dest, "wb") as dst:
              shutil.copyfileobj(src, dst, _CHUNK)
          except (zipfile.BadZipFile, OSError, EOFError) as e:
            if isinstance(e, OSError) and e.filename:
              raise
            raise UserError(f"{zip_path}: member {info.filename} is damaged "
                            f"({e}); download the archive again") from None
    _check_layout(tmp, zip_paths)
  return target


def _check_layout(gtsrb_dir, zip_paths):
  """UserError unless an extracted tree holds training or test images."""
  if not any(os.path.isdir(os.path.join(gtsrb_dir, *d))
             for d in (TRAINING_IMAGES, TEST_IMAGES)):
    raise UserError(f"{', '.join(zip_paths)}: held neither "
                    "GTSRB/Final_Training/Images nor GTSRB/Final_Test/Images; "
                    "pass the official GTSRB zips")


def download_gtsrb(output_dir, archives=GTSRB_ARCHIVES, local_archives=(),
                   local_checksums=None, overwrite=False):
  """Downloads (or takes local) GTSRB zips and extracts them into `output_dir`.

  Args:
    output_dir: gets the downloaded zips and `GTSRB/...`.
    archives: Archive tuples to download when `local_archives` is empty.
    local_archives: paths of zips already on disk; nothing is downloaded.
    local_checksums: optional "ALGORITHM:HEX" per local archive (same order).
    overwrite: replace an existing `output_dir/GTSRB`.

  Returns:
    The path of `output_dir/GTSRB`.
  """
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise UserError(f"{output_dir} is a file; pass a directory as --output_dir")
  target = os.path.join(output_dir, ROOT_DIR)
  if os.path.isdir(target) and os.listdir(target) and not overwrite:
    raise UserError(f"{target} already holds extracted images: pass "
                    "--overwrite to replace it")
  if local_checksums and len(local_checksums) != len(local_archives):
    raise UserError(f"{len(local_checksums)} checksums for "
                    f"{len(local_archives)} archives: give one per archive")
  if local_archives:
    zips = list(local_archives)
    for i, zip_path in enumerate(zips):
      if not os.path.isfile(zip_path):
        raise UserError(f"{zip_path}: archive not found; check --archive")
      if local_checksums and local_checksums[i]:
        verify_checksum(zip_path, local_checksums[i])
  else:
    os.makedirs(output_dir, exist_ok=True)
    zips = [download_file(a.url, os.path.join(output_dir, a.name), a.checksum)
            for a in archives]
  return extract_archives(zips, output_dir, overwrite=overwrite)
