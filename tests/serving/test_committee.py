"""A committee of the tiny pattern models (per_image and equalize columns)
exported as one graph: frozen, it is the mean of the single frozen graphs;
as TFLite (float and int8) LiteRT runs it like one model."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.config import ModelConfig
from alexnet.core.errors import UserError
from alexnet.datasets import tfrecord_reader
from alexnet.estimator import model_dir as model_dir_lib
from alexnet.evaluation import metrics
from alexnet.graph_tools import freeze
from alexnet.graph_tools import graph_io
from alexnet.lite import converter
from alexnet.lite import flatbuffer
from alexnet.lite import interpreter
from alexnet.runner import model_files
from alexnet.serving import committee
from alexnet.serving import export
from tests import builders


def _frozen_predict(graph_path, images, output="probabilities"):
  runner = model_files.FrozenGraphRunner(graph_path, output_name=output)
  try:
    return runner.predict(images)
  finally:
    runner.close()


@pytest.fixture(scope="module")
def images(pattern_gtsrb):
  """The validation images, and a dark, flat one (the equalize column's
  hard case)."""
  validation, _ = tfrecord_reader.load_split(
      pattern_gtsrb["tfrecords"], "validation", builders.PATTERNS.image_size)
  dark = np.full((1,) + validation.shape[1:], 3.0, np.float32)
  return np.concatenate([validation, dark])


@pytest.fixture(scope="module")
def committee_export(pattern_model, pattern_model_equalized, tmp_path_factory):
  return committee.export_committee(
      [pattern_model, pattern_model_equalized],
      str(tmp_path_factory.mktemp("committee") / "export"), "latest")


@pytest.fixture(scope="module")
def committee_graph(committee_export):
  return builders.freeze_export(
      committee_export, os.path.join(committee_export, "frozen.pb"))


def test_frozen_committee_is_the_mean_of_its_columns(
    committee_graph, pattern_graph, pattern_graph_equalized, images):
  columns = [_frozen_predict(g, images)
             for g in (pattern_graph, pattern_graph_equalized)]
  # The two standardizations make two different models.
  assert np.abs(columns[0] - columns[1]).max() > 1e-3
  probabilities = _frozen_predict(committee_graph, images)
  np.testing.assert_allclose(probabilities, np.mean(columns, axis=0),
                             atol=1e-5)


def test_committee_export_has_the_single_model_interface(
    committee_export, pattern_model, pattern_model_equalized, images):
  graph_def = graph_io.load_graph_def(
      os.path.join(committee_export, export.INFERENCE_GRAPH))
  nodes = {n.name: n for n in graph_def.node}
  placeholders = [n for n in nodes.values() if n.op == "Placeholder"]
  assert [n.name for n in placeholders] == ["input"]
  assert [d.size for d in placeholders[0].attr["shape"].shape.dim] == [
      -1, builders.PATTERNS.image_size, builders.PATTERNS.image_size, 3]
  assert placeholders[0].attr["dtype"].type == tf.float32.as_datatype_enum
  for i in range(2):
    assert f"column{i}/alexnet/fc8/weights" in nodes
  assert "column1/alexnet/standardize/UnsortedSegmentSum" in nodes
  assert not [n for n in nodes if n.startswith("column0/alexnet/standardize/")
              and nodes[n].op == "UnsortedSegmentSum"]
  with open(os.path.join(committee_export, "export.json")) as f:
    columns = json.load(f)["columns"]
  assert [c["model_dir"] for c in columns] == [
      os.path.abspath(pattern_model), os.path.abspath(pattern_model_equalized)]
  assert [c["model_config"]["input_standardization"] for c in columns] == [
      "per_image", "equalize"]
  # All three outputs, from the export's own graph and checkpoint.
  frozen = freeze.freeze_graph_def(
      graph_def, os.path.join(committee_export, export.CHECKPOINT),
      ["probabilities", "logits", "classes"])
  with tf.Graph().as_default():
    tf.graph_util.import_graph_def(frozen, name="")
    with tf.compat.v1.Session() as sess:
      probabilities, logits, classes = sess.run(
          ["probabilities:0", "logits:0", "classes:0"], {"input:0": images})
  np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), probabilities,
                             atol=1e-6)
  np.testing.assert_array_equal(classes, probabilities.argmax(axis=1))


def test_one_column_is_the_single_model(pattern_model, pattern_graph, images,
                                        tmp_path):
  export_dir = committee.export_committee([pattern_model],
                                          str(tmp_path / "one"), "latest")
  graph = builders.freeze_export(export_dir, str(tmp_path / "one.pb"))
  np.testing.assert_allclose(_frozen_predict(graph, images),
                             _frozen_predict(pattern_graph, images),
                             atol=1e-6)


def test_committee_tflite_float_agrees(committee_graph, images, tmp_path):
  info = converter.convert_frozen_graph(committee_graph,
                                        str(tmp_path / "committee.tflite"))
  lite = interpreter.predict(interpreter.load(info["path"]), images)
  np.testing.assert_allclose(lite, _frozen_predict(committee_graph, images),
                             atol=1e-5)


def test_committee_tflite_int8_agrees(committee_graph, pattern_gtsrb, images,
                                      tmp_path):
  info = converter.convert_frozen_graph(
      committee_graph, str(tmp_path / "committee_int8.tflite"),
      quantize="int8", inference_input_type="QUANTIZED_UINT8",
      representative_data=pattern_gtsrb["tfrecords"],
      representative_samples=24)
  assert info["input"]["dtype"] == "uint8"
  with open(info["path"], "rb") as f:
    ops = flatbuffer.list_ops(f.read())
  # Both columns' standardizations stay float; their layers are int8.
  for i in range(2):
    mine = [op for op in ops if any(
        name.startswith(f"column{i}/") for name in op["names"])]
    assert {flatbuffer.kernel_type(op) for op in mine
            if op["op"] == "CONV_2D"} == {"int8"}
    # (equalize's histogram indices are int32)
    assert {flatbuffer.kernel_type(op) for op in mine
            if "/standardize/" in "".join(op["names"])} - {"int32"} == {
                "float32"}
  lite = interpreter.predict(interpreter.load(info["path"]), images)
  assert metrics.top1_agreement(_frozen_predict(committee_graph, images),
                                lite) >= 0.95


def _model_dir(root, name, **changes):
  path = root / name
  path.mkdir()
  model_dir_lib.save_model_config(
      str(path), ModelConfig(image_size=67, num_classes=3, fc_units=256,
                             class_names=("a", "b", "c")).replace(**changes))
  return str(path)


@pytest.mark.parametrize("changes,message", [
    ({"image_size": 99}, r"committee columns \S+/a and \S+/b differ in "
     r"image_size \(67 and 99\)"),
    ({"crop_roi": True}, r"differ in crop_roi \(False and True\)"),
    ({"num_classes": 2, "class_names": ("a", "b")},
     r"differ in num_classes \(3 and 2\)"),
    ({"class_names": ("a", "b", "d")}, "have different class_names"),
    ({"fake_quant": True}, r"\S+/b was trained quantization-aware"),
])
def test_columns_that_cannot_form_one_model(changes, message, tmp_path):
  model_dirs = [_model_dir(tmp_path, "a"), _model_dir(tmp_path, "b",
                                                      **changes)]
  with pytest.raises(UserError, match=message) as e:
    committee.export_committee(model_dirs, str(tmp_path / "out"))
  assert "\n" not in str(e.value)
  assert not os.path.exists(tmp_path / "out")


def test_checkpoints_must_name_one_per_column(tmp_path):
  model_dirs = [_model_dir(tmp_path, "a"), _model_dir(tmp_path, "b")]
  with pytest.raises(UserError, match="names 1 checkpoints for 2 model_dirs"):
    committee.export_committee(model_dirs, str(tmp_path / "out"),
                               str(tmp_path / "a" / "model.ckpt-3"))
  with pytest.raises(UserError, match="at least one --model_dir"):
    committee.export_committee([], str(tmp_path / "out"))


def test_export_tool_writes_a_committee(tool, pattern_model,
                                        pattern_model_equalized, tmp_path):
  out = tmp_path / "committee"
  both = f"--model_dir={pattern_model},{pattern_model_equalized}"
  refused = tool("export", both, "--checkpoint=latest", check=False)
  assert refused.returncode == 1
  assert "is a committee: pass --export_dir=DIR" in refused.stderr
  tool("export", both, "--checkpoint=latest", f"--export_dir={out}")
  with open(out / "export.json") as f:
    assert len(json.load(f)["columns"]) == 2
  assert tf.saved_model.contains_saved_model(str(out / "saved_model"))
