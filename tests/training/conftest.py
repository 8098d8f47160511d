"""The training tests' tiny run: tiny_gtsrb and tiny_model (tests/conftest.py),
their settings, an exported copy and a linked model_dir."""

import os

import pytest

from alexnet.serving import export
from tests import builders


@pytest.fixture(scope="session")
def tiny():
  """builders.COLORS: image_size, batch_size, model and train settings."""
  return builders.COLORS


@pytest.fixture(scope="session")
def exported_model(tiny_model):
  """tiny_model with export/ from its latest checkpoint."""
  export.export(tiny_model, "latest")
  return tiny_model


@pytest.fixture
def model_dir_link(tiny_model, tmp_path):
  """A new model_dir whose latest checkpoint and config link to tiny_model's."""
  model_dir = tmp_path / "linked_model"
  model_dir.mkdir()
  for name in os.listdir(tiny_model):
    if name.startswith("model.ckpt-6") or name in ("checkpoint",
                                                   "model_config.json"):
      os.symlink(os.path.join(tiny_model, name), model_dir / name)
  return str(model_dir)
