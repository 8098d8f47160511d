"""Atomic outputs: written under a temporary name, renamed only when complete.

An interrupted step therefore leaves either the previous complete output or
nothing, never a half-written file that a later step would trust.
"""

import contextlib
import os
import shutil
import tempfile

from alexnet.core.errors import UserError


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def _tmp_sibling(path, is_dir):
  parent = os.path.dirname(os.path.abspath(path)) or "."
  if is_dir:
    # A whole output tree may be nested anywhere; a single file is written
    # only beside something that exists, which catches typos in its path.
    os.makedirs(parent, exist_ok=True)
  elif not os.path.isdir(parent):
    raise UserError(f"output directory {parent} does not exist: create it first")
  base = os.path.basename(path.rstrip("/"))
  if is_dir:
    tmp = tempfile.mkdtemp(prefix=f".{base}.tmp-", dir=parent)
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would hide the result
    return tmp
  fd, tmp = tempfile.mkstemp(prefix=f".{base}.tmp-", dir=parent)
  os.close(fd)
  os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it, not 0600
  return tmp


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary file path in `path`'s directory; renames it on success."""
  tmp = _tmp_sibling(path, is_dir=False)
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def atomic_write(path, data):
  """Writes bytes or str to `path` atomically."""
  mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
  with atomic_path(path) as tmp:
    with open(tmp, mode) as f:
      f.write(data)


@contextlib.contextmanager
def atomic_dir(path, overwrite=False):
  """Yields a temporary directory that replaces `path` when the block succeeds.

  Refuses to replace an existing non-empty `path` unless `overwrite`.
  """
  if os.path.exists(path) and os.listdir(path) and not overwrite:
    raise UserError(f"{path} already holds a result: pass --overwrite to replace it")
  tmp = _tmp_sibling(path, is_dir=True)
  try:
    yield tmp
    old = None
    if os.path.exists(path):
      # Swap first, delete after: the new result is in place at once and a
      # slow delete of a large old tree can't leave `path` half-removed.
      old = tmp + ".old"
      os.replace(path, old)
    os.replace(tmp, path)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  if old:
    shutil.rmtree(old, ignore_errors=True)
