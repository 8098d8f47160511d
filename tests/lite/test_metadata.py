"""Labels and input normalization travel inside the .tflite (metadata)."""

import zipfile

import pytest

from alexnet.lite import interpreter
from alexnet.lite import metadata
from alexnet.datasets.signnames import SIGN_NAMES


def test_metadata_round_trips(variant, converted):
  info = converted[variant]
  meta = metadata.read_metadata(info["path"])
  assert meta["labels"] == list(SIGN_NAMES)
  assert meta["labels_file"] == metadata.LABELS_FILE
  # The graph normalizes itself: callers feed raw RGB, (x - 0) / 1.
  assert (meta["mean"], meta["std"]) == ([0.0], [1.0])
  assert meta["input_is_image"] and meta["color_space"] == "RGB"
  assert meta["min_parser_version"] == metadata.MIN_PARSER_VERSION
  with open(info["labels_path"]) as f:
    assert f.read().splitlines() == meta["labels"]


def test_packed_model_is_a_zip_and_still_runs(converted):
  path = converted["float"]["path"]
  with zipfile.ZipFile(path) as z:
    assert z.namelist() == [metadata.LABELS_FILE]
  assert interpreter.load(path).get_output_details()[0]["shape"][-1] == len(
      SIGN_NAMES)


def test_populate_refuses_a_second_copy(converted):
  with open(converted["float16"]["path"], "rb") as f:
    packed = f.read()
  with pytest.raises(ValueError, match="already has"):
    metadata.populate(packed, ["a", "b"], "m", "d")
