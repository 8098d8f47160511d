"""The typed configs: checked values, one-line errors, model_config.json."""

import json

import pytest

from alexnet.core.config import ModelConfig, TrainConfig
from alexnet.core.errors import UserError
from alexnet.estimator import model_dir


@pytest.mark.parametrize("config, changes, message", [
    (TrainConfig, {"batch_size": 0}, "--batch_size=0 is out of range: it "
     "must be >= 1"),
    (TrainConfig, {"epochs": -1}, "--epochs=-1 is out of range"),
    (TrainConfig, {"max_steps": 0}, "--max_steps=0 is out of range"),
    (TrainConfig, {"dropout_rate": 1.0}, r"--dropout_rate=1.0 is out of "
     r"range: it must be in \[0, 1\)"),
    (TrainConfig, {"lr_schedule": "linear"}, "--lr_schedule=linear is not "
     "one of constant, cosine, step"),
    (ModelConfig, {"normalization": "group"}, "--normalization=group is not "
     "one of lrn, batch_norm"),
])
def test_bad_values_name_the_flag_and_the_range(config, changes, message):
  with pytest.raises(UserError, match=message) as info:
    config(**changes)
  assert "\n" not in str(info.value)


def test_replace_checks_too_and_refuses_unknown_fields():
  with pytest.raises(UserError, match="--image_size=10 is out of range"):
    ModelConfig().replace(image_size=10)
  with pytest.raises(UserError, match="ModelConfig has no setting colour"):
    ModelConfig().replace(colour=1)


def test_model_config_json_is_the_model_config_and_nothing_else(tmp_path):
  model = ModelConfig(image_size=99, crop_roi=True, class_names=("a", "b"),
                      num_classes=2)
  model_dir.save_model_config(str(tmp_path), model)
  with open(tmp_path / "model_config.json") as f:
    assert json.load(f) == model.to_dict()
  assert model_dir.load_model_config(str(tmp_path)) == model


def test_earlier_model_config_files_still_load(tmp_path):
  # Earlier versions also wrote the (fixed) node names.
  values = {**ModelConfig(class_names=("a", "b"), num_classes=2).to_dict(),
            "input_node": "input", "output_nodes": ["probabilities"]}
  (tmp_path / "model_config.json").write_text(json.dumps(values))
  assert model_dir.load_model_config(str(tmp_path)).class_names == ("a", "b")


def test_a_model_config_with_unknown_keys_is_refused(tmp_path):
  values = {**ModelConfig(class_names=("a",)).to_dict(), "colour": 1}
  (tmp_path / "model_config.json").write_text(json.dumps(values))
  with pytest.raises(UserError, match="unknown ModelConfig keys colour"):
    model_dir.load_model_config(str(tmp_path))


def test_range_problem_is_the_one_range_rule():
  from alexnet.core.config import range_problem  # pylint: disable=import-outside-toplevel
  closed = {"low": 1, "high": 3}
  half_open = {"low": 0, "high": 1, "low_open": True, "high_open": True}
  assert [range_problem(v, closed) for v in (1, 3, None)] == [None] * 3
  assert range_problem(0, closed) == "it must be in [1, 3]"
  assert range_problem(4, closed) == "it must be in [1, 3]"
  assert range_problem(0, half_open) == range_problem(1, half_open) == (
      "it must be in (0, 1)")
  assert range_problem(0.5, half_open) is None
  assert range_problem(-1, {"low": 0}) == "it must be >= 0"
  assert range_problem(5, {"high": 5, "high_open": True}) == "it must be < 5"
  assert range_problem(10 ** 9, {}) is None
