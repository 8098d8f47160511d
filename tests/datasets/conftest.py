"""Fresh tiny GTSRB trees (builders.SMOOTH) for tests that change them."""

import pytest

from tests import builders


@pytest.fixture
def training_tree(tmp_path):
  """(Images dir, pixels) of 3 classes x 3 tracks x 2 frames."""
  return builders.write_training_layout(str(tmp_path / "raw"),
                                        builders.SMOOTH)


@pytest.fixture
def final_test_tree(tmp_path):
  """(Images dir, pixels) of a 4-image final-test folder."""
  return builders.write_test_layout(str(tmp_path / "raw_test"),
                                    builders.SMOOTH)
