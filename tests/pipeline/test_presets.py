"""Presets are complete configurations; every value is checked."""

import pytest

from alexnet.core.config import (ConvertConfig, ModelConfig, PipelineConfig,
                                 TrainConfig)
from alexnet.core.errors import UserError
from alexnet.pipeline import presets
from alexnet.pipeline import stages


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_resolves_to_checked_configs(name):
  model, train, convert, pipeline = presets.resolve(name)
  assert isinstance(model, ModelConfig) and isinstance(train, TrainConfig)
  assert isinstance(convert, ConvertConfig)
  assert isinstance(pipeline, PipelineConfig)
  values = {**model.to_dict(), **train.to_dict(), **convert.to_dict(),
            **pipeline.to_dict()}
  for key, value in presets.PRESETS[name].items():
    assert values[key] == (list(value) if isinstance(value, tuple) else value)


def test_the_real_data_preset_is_the_measured_recipe():
  model, train, convert, _ = presets.resolve("gtsrb-99")
  assert (model.image_size, model.input_standardization, model.crop_roi,
          model.normalization) == (99, "equalize", True, "batch_norm")
  assert (train.epochs, train.augment_color, train.moving_average_decay,
          train.seed) == (12, True, 0.999, 1)
  assert convert.representative_samples == 500
  assert convert.float_layers == ("conv1",)


def test_overrides_replace_single_settings():
  model, train, _, _ = presets.resolve("cpu-fast", {"image_size": 99,
                                                    "epochs": 3})
  assert model.image_size == 99 and train.epochs == 3
  assert model.normalization == "batch_norm"  # the preset's, kept


def test_unknown_settings_and_bad_values_are_one_line_errors():
  with pytest.raises(UserError, match="unknown settings colour"):
    presets.resolve("cpu-fast", {"colour": True})
  with pytest.raises(UserError, match="--preset=fast: choose one of"):
    presets.resolve("fast")
  with pytest.raises(UserError,
                     match=r"^--image_size=32 is out of range: it must be "
                     r">= 67$"):
    presets.resolve("cpu-fast", {"image_size": 32})


def test_quantize_is_each_variants_own():
  with pytest.raises(UserError, match="unknown settings quantize"):
    presets.resolve("cpu-fast", {"quantize": "int8"})


def test_the_training_options_of_issue_28_are_settings_passed_to_train():
  _, train, _, _ = presets.resolve("gtsrb-99", {
      "class_balance": "sampling", "augment_blur": True,
      "augment_occlusion": True})
  assert train.class_balance == "sampling" and train.augment_blur
  assert not train.augment_perspective  # Off unless asked.
  command = stages._tool("train", **stages._train_flags(  # pylint: disable=protected-access
      presets.resolve("gtsrb-99")[0], train))
  for flag in ("--class_balance=sampling", "--augment_blur",
               "--augment_occlusion", "--noaugment_perspective"):
    assert f" {flag} " in f"{command} "
