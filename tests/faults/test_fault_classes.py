"""Each class of fault, at the place it enters (issue 26), on the catalogue's
broken files: the library raises one UserError naming the file (and node or
variable), and leftovers are cleaned up."""

import errno
import glob
import os
import shutil
import subprocess

import pytest
import tensorflow as tf

from alexnet.core import atomic_files
from alexnet.core.errors import UserError
from alexnet.datasets import jpeg_folders
from alexnet.datasets import tfrecord_reader
from alexnet.datasets import tfrecord_writer
from alexnet.estimator import checkpoints
from alexnet.graph_tools import graph_io
from alexnet.lite import interpreter


@pytest.mark.parametrize("name", ["ckpt_truncated", "ckpt_bad_index"])
def test_a_corrupt_checkpoint_is_named(fault_catalogue, name):
  prefix = fault_catalogue[name]
  with pytest.raises(UserError, match=f"checkpoint {prefix} is corrupt"):
    checkpoints.check_readable(prefix)


def test_resume_removes_tempstate_leftovers_and_checks_the_checkpoint(
    fault_catalogue, tmp_path):
  model_dir = str(tmp_path / "model")
  shutil.copytree(os.path.dirname(fault_catalogue["ckpt_truncated"]),
                  model_dir)
  os.makedirs(os.path.join(model_dir, checkpoints.BEST_DIR))
  leftovers = [os.path.join(model_dir, "model.ckpt-9.index.tempstate1a2b"),
               os.path.join(model_dir, checkpoints.BEST_DIR,
                            "model.ckpt-9.data-00000-of-00001.tempstate3c")]
  for path in leftovers:
    open(path, "wb").write(b"half a save")
  with pytest.raises(UserError, match="is corrupt or truncated"):
    checkpoints.resume_point(model_dir)
  assert not any(os.path.exists(p) for p in leftovers)
  assert os.path.exists(os.path.join(model_dir, "model_config.json"))


@pytest.mark.parametrize("name", ["tflite_garbage", "tflite_truncated"])
def test_a_corrupt_tflite_is_named(fault_catalogue, name):
  with pytest.raises(UserError, match=f"{fault_catalogue[name]} is not a "
                     "valid TensorFlow Lite model"):
    interpreter.load(fault_catalogue[name])


@pytest.mark.parametrize("name", ["tfrecords_corrupt", "tfrecords_truncated"])
def test_a_corrupt_shard_is_named(fault_catalogue, name):
  shard = tfrecord_reader.shard_paths(fault_catalogue[name], "train")[0]
  with pytest.raises(UserError, match=f"{shard} is corrupt or truncated"):
    tfrecord_reader.load_split(fault_catalogue[name], "train", 67)
  # Whatever reads the shards (training's session) gets the same line.
  with pytest.raises(UserError, match=f"{shard} is corrupt"):
    with tfrecord_reader.reading(fault_catalogue[name], "train"):
      raise tf.errors.DataLossError(None, None, "corrupted record at 12")


def test_graph_faults_name_the_file_and_node(fault_catalogue):
  c = fault_catalogue
  with pytest.raises(UserError, match=r"short_const.pb: Const node 'weights' "
                     r"holds \d+ bytes but its float32 shape \[192, 43\] "
                     r"needs 33024"):
    graph_io.load_graph_def(c["graph_bad_const"])
  with pytest.raises(UserError) as raised:
    graph_io.load_graph_def(c["graph_truncated_text"])
  assert str(raised.value).startswith(c["graph_truncated_text"])
  assert len(str(raised.value)) < 400  # not the quoted rest of the file
  graph_def = graph_io.load_graph_def(c["graph_unimportable"])
  with pytest.raises(UserError, match="unknown_op.pb does not import"):
    graph_io.import_graph(graph_def, c["graph_unimportable"])
  graph = graph_io.import_graph(graph_io.load_graph_def(c["graph"]))
  with pytest.raises(UserError) as raised:
    graph_io.io_tensors(graph, "g.pb", "input", "nope")
  assert "no output node 'nope'" in str(raised.value)
  assert "refers to a Tensor" not in str(raised.value)  # TensorFlow's words


def test_an_undecodable_jpeg_is_refused_when_written(fault_catalogue,
                                                     tmp_path):
  with pytest.raises(UserError, match=f"image {fault_catalogue['jpeg_undecodable']}"
                     " does not decode"):
    tfrecord_writer.build(fault_catalogue["converted_undecodable"],
                          str(tmp_path / "records"))
  assert os.listdir(tmp_path) == []


def test_a_class_id_that_disagrees_with_its_folder(fault_catalogue, tmp_path):
  with pytest.raises(UserError, match="ClassId 0 disagrees with its class "
                     "folder"):
    jpeg_folders.convert(fault_catalogue["images_class_mismatch"],
                         str(tmp_path / "converted"), num_workers=1)
  assert os.listdir(tmp_path) == []


def _tmpfs(tmp_path, options):
  """A tmpfs mounted with `options` (root only; the test is skipped
  elsewhere), unmounted after the test."""
  mount = tmp_path / "disk"
  mount.mkdir()
  if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs",
                     str(mount)], capture_output=True).returncode != 0:
    pytest.skip("cannot mount a tmpfs here (needs root)")
  yield str(mount)
  subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture
def small_disk(tmp_path):
  """A 64 KiB disk."""
  yield from _tmpfs(tmp_path, "size=64k")


@pytest.fixture
def read_only_disk(tmp_path):
  yield from _tmpfs(tmp_path, "ro")


def test_a_read_only_target_names_the_path(read_only_disk):
  path = os.path.join(read_only_disk, "out.json")
  with pytest.raises(UserError, match=f"cannot write {path} \\(Read-only "
                     "file system\\)"):
    atomic_files.atomic_write(path, "{}")
  with pytest.raises(UserError, match="Read-only file system"):
    with atomic_files.atomic_dir(os.path.join(read_only_disk, "run")):
      pass


def test_a_full_disk_names_the_path_and_the_bytes_needed(small_disk):
  path = os.path.join(small_disk, "big.bin")
  with pytest.raises(UserError) as raised:
    atomic_files.atomic_write(path, b"x" * (1 << 20))
  message = str(raised.value)
  assert message.startswith(f"cannot write {path}: the disk is full")
  assert "1,048,576 bytes needed" in message and ".tmp-" not in message
  assert os.listdir(small_disk) == []
  # TensorFlow's writers say ResourceExhausted or "No space left" instead.
  with pytest.raises(UserError, match=f"cannot write {path}: the disk is "
                     "full"):
    with atomic_files.atomic_path(path) as tmp:
      with tf.io.TFRecordWriter(tmp) as writer:
        for _ in range(64):
          writer.write(b"x" * 4096)
  assert os.listdir(small_disk) == []


def test_a_parent_that_is_a_file_is_named(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("x")
  for write in (lambda p: atomic_files.atomic_write(p, "x"),
                lambda p: atomic_files.atomic_dir(p).__enter__()):
    with pytest.raises(UserError, match=f"{blocker} is a file, not a "
                       "directory"):
      write(str(blocker / "sub" / "out"))


def test_created_dir_removes_only_what_a_failed_block_made(tmp_path):
  target = tmp_path / "new" / "run"
  with pytest.raises(RuntimeError):
    with atomic_files.created_dir(str(target)):
      (target / "half").write_text("x")
      raise RuntimeError("failed")
  assert os.listdir(tmp_path) == []
  existing = tmp_path / "existing"
  existing.mkdir()
  with pytest.raises(RuntimeError):
    with atomic_files.created_dir(str(existing)):
      raise RuntimeError("failed")
  assert existing.is_dir()
  with pytest.raises(RuntimeError):
    with atomic_files.created_dir(str(target), keep=lambda: True):
      raise RuntimeError("failed, but resumable")
  assert target.is_dir()


def test_write_failed_never_names_the_temporary_file(tmp_path):
  error = OSError(errno.EROFS, "Read-only file system",
                  str(tmp_path / ".out.tmp-xyz"))
  message = str(atomic_files.write_failed(str(tmp_path / "out"), error))
  assert message.startswith(f"cannot write {tmp_path / 'out'} (Read-only")
  assert ".tmp-" not in message
