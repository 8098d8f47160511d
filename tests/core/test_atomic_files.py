"""alexnet.core.atomic_files: complete outputs or nothing, with ordinary permissions."""

import os
import stat

import pytest

from alexnet.core import atomic_files
from alexnet.core.errors import UserError


def test_atomic_write_replaces_whole_file(tmp_path):
  path = tmp_path / "out.txt"
  atomic_files.atomic_write(str(path), "first")
  atomic_files.atomic_write(str(path), b"second")
  assert path.read_bytes() == b"second"
  assert os.listdir(tmp_path) == ["out.txt"]  # no temporary left behind
  assert stat.S_IMODE(path.stat().st_mode) & 0o044  # readable by others


def test_atomic_path_failure_keeps_previous_output(tmp_path):
  path = tmp_path / "out.txt"
  path.write_text("complete")
  with pytest.raises(RuntimeError):
    with atomic_files.atomic_path(str(path)) as tmp:
      with open(tmp, "w") as f:
        f.write("half")
      raise RuntimeError("interrupted")
  assert path.read_text() == "complete"
  assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_path_missing_directory_is_one_line_error(tmp_path):
  with pytest.raises(UserError, match="does not exist"):
    atomic_files.atomic_write(str(tmp_path / "missing" / "out.txt"), "x")


def test_atomic_dir_refuses_existing_result_unless_overwrite(tmp_path):
  out = tmp_path / "nested" / "result"
  with atomic_files.atomic_dir(str(out)) as tmp:
    open(os.path.join(tmp, "a"), "w").close()
  assert sorted(os.listdir(out)) == ["a"]
  assert stat.S_IMODE(out.stat().st_mode) & 0o055  # not mkdtemp's 0700
  with pytest.raises(UserError, match="--overwrite"):
    with atomic_files.atomic_dir(str(out)):
      pass
  with atomic_files.atomic_dir(str(out), overwrite=True) as tmp:
    open(os.path.join(tmp, "b"), "w").close()
  assert sorted(os.listdir(out)) == ["b"]


def test_atomic_dir_interrupted_leaves_nothing(tmp_path):
  out = tmp_path / "result"
  with pytest.raises(KeyboardInterrupt):
    with atomic_files.atomic_dir(str(out)) as tmp:
      open(os.path.join(tmp, "a"), "w").close()
      raise KeyboardInterrupt
  assert os.listdir(tmp_path) == []
