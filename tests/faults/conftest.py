"""The catalogue of broken inputs that tests/faults walks every tool over.

Built once per session from the shared tiny dataset and model
(tests/conftest.py) and a small frozen classifier made here; nothing of it
is committed. Each entry is a real file of the kind a tool reads, broken the
way disks, downloads and hand edits break them.
"""

import glob
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from alexnet.datasets import signnames
from alexnet.estimator import checkpoints
from alexnet.lite import converter
from alexnet.nets import alexnet


def _small_graph(path):
  """A frozen 8x8-input classifier over GTSRB's classes; returns path."""
  graph = tf.Graph()
  with graph.as_default():
    net = alexnet.input_placeholder(8)
    flat = tf.reshape(net, [-1, 8 * 8 * 3])
    weights = np.random.default_rng(0).normal(
        0, 0.01, (8 * 8 * 3, signnames.NUM_CLASSES)).astype(np.float32)
    tf.nn.softmax(tf.matmul(flat, tf.constant(weights, name="weights")),
                  name="probabilities")
  with open(path, "wb") as f:
    f.write(graph.as_graph_def().SerializeToString())
  return path


def _flip_middle(path):
  """Overwrites bytes in the middle of a file (its size unchanged)."""
  data = bytearray(open(path, "rb").read())
  middle = len(data) // 2
  data[middle:middle + 16] = bytes(b ^ 0xFF for b in data[middle:middle + 16])
  open(path, "wb").write(bytes(data))


def _truncate(path, keep=0.5):
  data = open(path, "rb").read()
  open(path, "wb").write(data[:max(1, int(len(data) * keep))])


def _model_copy(model_dir, target):
  """model_dir's config and latest checkpoint, hard-linked (read-only use)
  except for what the caller breaks; returns the checkpoint prefix."""
  os.makedirs(target)
  latest = checkpoints.latest(model_dir)
  for path in glob.glob(latest + ".*") + [
      os.path.join(model_dir, "model_config.json")]:
    shutil.copy(path, target)
  with open(os.path.join(target, "checkpoint"), "w") as f:
    f.write(f'model_checkpoint_path: "{os.path.basename(latest)}"\n')
  return os.path.join(target, os.path.basename(latest))


def _break_graph(graph_path, target, breaker):
  graph_def = tf.compat.v1.GraphDef()
  graph_def.ParseFromString(open(graph_path, "rb").read())
  breaker(graph_def)
  with open(target, "wb") as f:
    f.write(graph_def.SerializeToString())
  return target


def _unknown_op(graph_def):
  next(n for n in graph_def.node if n.op == "MatMul").op = "NoSuchOp"


def _short_const(graph_def):
  const = next(n for n in graph_def.node if n.name == "weights")
  content = const.attr["value"].tensor.tensor_content
  const.attr["value"].tensor.tensor_content = content[:-4]


@pytest.fixture(scope="session")
def fault_catalogue(tiny_gtsrb, tiny_model, tmp_path_factory):
  """{name: path} of the broken inputs, plus the good ones they came from
  ("tfrecords", "model_dir", "graph", "tflite") and "a_file", a plain file
  used where a folder is expected. Everything lies under "root"."""
  root = str(tmp_path_factory.mktemp("fault_catalogue"))
  c = {"root": root, "tfrecords": tiny_gtsrb["tfrecords"],
       "model_dir": tiny_model}
  join = lambda *p: os.path.join(root, *p)

  # Checkpoints: the data file cut short; the index overwritten.
  c["ckpt_truncated"] = _model_copy(tiny_model, join("ckpt_truncated"))
  _truncate(glob.glob(c["ckpt_truncated"] + ".data-*")[0], keep=0.3)
  c["ckpt_bad_index"] = _model_copy(tiny_model, join("ckpt_bad_index"))
  _flip_middle(c["ckpt_bad_index"] + ".index")

  # TFRecord shards: a flipped record body; a shard cut short.
  for name, breaker in (("tfrecords_corrupt", _flip_middle),
                        ("tfrecords_truncated", _truncate)):
    shutil.copytree(tiny_gtsrb["tfrecords"], join(name))
    for shard in glob.glob(join(name, "*.tfrecord")):
      breaker(shard)
    c[name] = join(name)

  # Graphs: one that parses but does not import, one whose Const bytes do
  # not fit its shape, a text graph cut in the middle of a long line.
  c["graph"] = _small_graph(join("small.pb"))
  c["graph_unimportable"] = _break_graph(c["graph"], join("unknown_op.pb"),
                                         _unknown_op)
  c["graph_bad_const"] = _break_graph(c["graph"], join("short_const.pb"),
                                      _short_const)
  graph_def = tf.compat.v1.GraphDef()
  graph_def.ParseFromString(open(c["graph"], "rb").read())
  text = str(graph_def)
  c["graph_truncated_text"] = join("truncated.pbtxt")
  open(c["graph_truncated_text"], "w").write(text[:len(text) // 2])

  # .tflite: the identifier followed by garbage; a real model cut in half.
  c["tflite"] = join("small.tflite")
  converter.convert_frozen_graph(c["graph"], c["tflite"])
  c["tflite_garbage"] = join("garbage.tflite")
  open(c["tflite_garbage"], "wb").write(
      b"\x18\x00\x00\x00TFL3" + np.random.default_rng(0).bytes(4096))
  c["tflite_truncated"] = join("truncated.tflite")
  shutil.copy(c["tflite"], c["tflite_truncated"])
  _truncate(c["tflite_truncated"])

  # Converted JPEG folders: a JPEG with intact markers around a corrupt
  # body; an annotation whose class disagrees with its folder is in the
  # GTSRB layout (a CSV row's ClassId).
  converted = os.path.join(os.path.dirname(tiny_gtsrb["tfrecords"]),
                           "converted", "train")
  shutil.copytree(converted, join("converted_undecodable"))
  c["converted_undecodable"] = join("converted_undecodable")
  jpeg = sorted(glob.glob(join("converted_undecodable", "*", "*.jpg")))[0]
  data = open(jpeg, "rb").read()
  body = np.random.default_rng(0).bytes(len(data) - 4)
  open(jpeg, "wb").write(data[:2] + body + data[-2:])
  c["jpeg_undecodable"] = jpeg
  images = tiny_gtsrb["train_images"]
  shutil.copytree(images, join("images_class_mismatch"))
  c["images_class_mismatch"] = join("images_class_mismatch")
  gt_csv = sorted(glob.glob(join("images_class_mismatch", "00001", "GT-*.csv")))[0]
  lines = open(gt_csv).read().splitlines()
  fields = lines[1].split(";")
  fields[-1] = "0"  # folder 00001, ClassId 0
  lines[1] = ";".join(fields)
  open(gt_csv, "w").write("\n".join(lines) + "\n")
  c["gt_csv_mismatch"] = gt_csv

  open(join("gtsrb.zip"), "wb").write(b"not a zip archive")
  c["a_file"] = join("a_file")
  open(c["a_file"], "w").write("not a folder\n")
  os.makedirs(join("out"))
  c["out"] = join("out")
  return c
