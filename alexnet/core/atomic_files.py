"""Atomic outputs: written under a temporary name, renamed only when complete.

An interrupted step therefore leaves either the previous complete output or
nothing, never a half-written file that a later step would trust.
"""

import contextlib
import errno
import os
import shutil
import tempfile

from alexnet.core.errors import UserError, first_line, is_disk_full

# Failures of the file system under an output, not of the data being written.
_WRITE_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EFBIG,
                           errno.EROFS, errno.EACCES, errno.EPERM,
                           errno.ENOTDIR, errno.EISDIR))


def _is_write_failure(error, tmp):
  """True for an OSError on the temporary output (or none named), and for
  TensorFlow's errors of a full disk or naming the temporary output."""
  if isinstance(error, OSError):
    return error.errno in _WRITE_ERRNOS and (
        not error.filename or str(error.filename).startswith(tmp))
  return is_disk_full(error) or (hasattr(error, "error_code") and
                                 tmp in str(error))


def write_failed(path, error, needed_bytes=None):
  """The UserError for a failed write of `path` (the user's name for it,
  never our temporary one): a full disk says how much is free, and how
  much was needed where known."""
  parent = os.path.dirname(os.path.abspath(path)) or "."
  if is_disk_full(error):
    free = shutil.disk_usage(parent).free if os.path.isdir(parent) else 0
    needed = f"{needed_bytes:,} bytes needed, " if needed_bytes else ""
    return UserError(f"cannot write {path}: the disk is full ({needed}"
                     f"{free:,} bytes free in {parent}): free some space or "
                     "write somewhere else")
  reason = getattr(error, "strerror", None) or first_line(error)
  return UserError(f"cannot write {path} ({reason}): check that {parent} is "
                   "a writable directory")


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def _ancestors(path):
  """(the nearest existing folder above `path`, the outermost missing one
  between them or None): what writing `path` writes into and creates."""
  top, parent = None, os.path.dirname(os.path.abspath(path))
  while parent and not os.path.exists(parent):
    top, parent = parent, os.path.dirname(parent)
  return parent, top


def _refuse_file_above(path):
  """UserError naming `path` when the nearest existing thing above it is a
  file, so nothing can be made under it."""
  existing = _ancestors(path)[0]
  if existing and not os.path.isdir(existing):
    raise UserError(f"cannot write {path}: {existing} is a file, not a "
                    "directory; pass another output path")


@contextlib.contextmanager
def created_dir(path, keep=None):
  """Makes the folder `path` (and its missing parents) for the block; if
  the block fails, removes what it made, so a failed tool leaves no output
  folder it created -- unless `keep()` says it holds something to resume
  from. An existing folder is left as it is."""
  top = None if os.path.isdir(path) else (_ancestors(path)[1] or
                                          os.path.abspath(path))
  ensure_dir(path)
  try:
    yield path
  except BaseException:
    if not (keep and keep()):
      remove_created(top)
    raise


def ensure_dir(path):
  """Makes the folder `path` and its parents; UserError naming `path` when
  it, or a folder above it, is a file, or it cannot be made."""
  if os.path.exists(path) and not os.path.isdir(path):
    raise UserError(f"cannot write into {path}: it is a file, not a "
                    "directory; pass another output path")
  _refuse_file_above(path)
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise write_failed(os.path.join(path, ""), e) from None


def remove_created(top):
  """Deletes the folder tree `top` that a failed step created (None: none)."""
  if top:
    shutil.rmtree(top, ignore_errors=True)


def _tmp_sibling(path, is_dir):
  parent = os.path.dirname(os.path.abspath(path)) or "."
  _refuse_file_above(path)
  try:
    if is_dir:
      # A whole output tree may be nested anywhere; a single file is written
      # only beside something that exists, which catches typos in its path.
      os.makedirs(parent, exist_ok=True)
    elif not os.path.isdir(parent):
      raise UserError(f"output directory {parent} does not exist: create it "
                      "first")
    base = os.path.basename(path.rstrip("/"))
    if is_dir:
      tmp = tempfile.mkdtemp(prefix=f".{base}.tmp-", dir=parent)
      os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would hide the result
      return tmp
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.tmp-", dir=parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it, not 0600
    return tmp
  except OSError as e:
    raise write_failed(path, e) from None


@contextlib.contextmanager
def atomic_path(path, needed_bytes=None):
  """Yields a temporary file path in `path`'s directory; renames it on success.

  A full disk or unwritable target is a UserError naming `path` (and
  `needed_bytes`, the size to be written, where known).
  """
  tmp = _tmp_sibling(path, is_dir=False)
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException as e:
    if os.path.exists(tmp):
      os.remove(tmp)
    if _is_write_failure(e, tmp):
      raise write_failed(path, e, needed_bytes) from None
    raise


def atomic_write(path, data):
  """Writes bytes or str to `path` atomically."""
  mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
  size = len(data.encode() if isinstance(data, str) else data)
  with atomic_path(path, needed_bytes=size) as tmp:
    with open(tmp, mode) as f:
      f.write(data)


@contextlib.contextmanager
def atomic_dir(path, overwrite=False):
  """Yields a temporary directory that replaces `path` when the block succeeds.

  Refuses to replace an existing non-empty `path` unless `overwrite`.
  """
  if os.path.exists(path) and os.listdir(path) and not overwrite:
    raise UserError(f"{path} already holds a result: pass --overwrite to replace it")
  created = _ancestors(path)[1]
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
  except BaseException as e:
    shutil.rmtree(tmp, ignore_errors=True)
    remove_created(created)
    if _is_write_failure(e, tmp):
      raise write_failed(path, e) from None
    raise
  if old:
    shutil.rmtree(old, ignore_errors=True)
