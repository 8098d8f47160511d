"""model_dir/model_config.json: the serialized ModelConfig, and nothing else.

Training writes it; evaluation, export, freezing and prediction read it, so
they rebuild the same network without repeating flags. A model_dir resumed
with other network settings or another dataset's class count is refused.
"""

import json
import os

from alexnet.core.atomic_files import atomic_write
from alexnet.core.config import ModelConfig
from alexnet.core.errors import UserError
from alexnet.estimator import checkpoints

CONFIG_NAME = "model_config.json"
# Written by earlier versions beside the config; the node names are
# alexnet.nets.alexnet's constants.
_LEGACY_KEYS = ("input_node", "output_nodes")


def config_path(model_dir):
  return os.path.join(model_dir, CONFIG_NAME)


def save_model_config(model_dir, model):
  atomic_write(config_path(model_dir),
               json.dumps(model.to_dict(), indent=2) + "\n")


def read_model_config(path):
  """The ModelConfig in a model_config.json file; UserError naming it if it
  is absent, unreadable or not a model config."""
  try:
    with open(path) as f:
      values = json.load(f)
  except FileNotFoundError:
    raise UserError(f"{path} not found: {os.path.dirname(path) or '.'} is not "
                    "a model directory written by tools/train.py") from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise UserError(f"{path} is not valid JSON ({e}): retrain or restore "
                    "it") from None
  if not isinstance(values, dict) or not values.get("class_names"):
    raise UserError(f"{path} lacks class_names: retrain into a new model_dir")
  for key in _LEGACY_KEYS:
    values.pop(key, None)
  return ModelConfig.from_dict(values, path)


def load_model_config(model_dir):
  """The ModelConfig of a model directory."""
  return read_model_config(config_path(model_dir))


def check_model_dir(model_dir, model):
  """UserError if model_dir holds a model with other network settings."""
  if not os.path.exists(config_path(model_dir)):
    if checkpoints.latest(model_dir):
      raise UserError(f"{model_dir} has checkpoints but no {CONFIG_NAME}: "
                      "train into a new --model_dir")
    return
  saved = load_model_config(model_dir)
  if saved.num_classes != model.num_classes:
    raise UserError(
        f"the dataset has {model.num_classes} classes but the model in "
        f"{model_dir} has {saved.num_classes}: use that model's dataset or "
        "train a new --model_dir")
  difference = first_difference(saved, model)
  if difference:
    key, value, wanted = difference
    raise UserError(
        f"{model_dir} was trained with --{key}={value}, not {wanted}: pass "
        f"--{key}={value} to continue it, or use a new --model_dir")


def first_difference(saved, model, ignore=("class_names",)):
  """(key, saved value, model's value) of the first ModelConfig field that
  differs outside `ignore`, or None."""
  wanted = model.to_dict()
  for key, value in saved.to_dict().items():
    if key not in ignore and value != wanted[key]:
      return key, value, wanted[key]
  return None
