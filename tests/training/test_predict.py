"""Prediction: top-5 sign names for images of any size and format."""

import os
import re

import numpy as np
import pytest

from alexnet.datasets import image_files
from alexnet.serving import predictor
from alexnet.core.errors import UserError


def _saved_model(model_dir):
  return os.path.join(model_dir, "export", "saved_model")


def _noisy(color, height, width, seed):
  rng = np.random.RandomState(seed)
  pixels = np.array(color) + rng.normal(0, 30, (height, width, 3))
  return np.clip(pixels, 0, 255).astype(np.uint8)


def test_predict_tool_prints_top5_sign_names(tool, exported_model, tmp_path):
  from PIL import Image  # pylint: disable=import-outside-toplevel
  red = tmp_path / "red.png"  # Class 0 of the tiny data; another size.
  Image.fromarray(_noisy((200, 30, 30), 120, 80, 0)).save(red)
  blue = tmp_path / "blue.jpg"  # Class 1.
  Image.fromarray(_noisy((30, 30, 200), 25, 31, 1)).save(blue, quality=95)
  green = tmp_path / "green.ppm"  # Class 2.
  Image.fromarray(_noisy((30, 180, 30), 67, 67, 2)).save(green)
  proc = tool("predict", _saved_model(exported_model), red, blue, green)
  blocks = proc.stdout.strip().split("\n")
  assert len(blocks) == 3 * 6
  for i, (path, sign) in enumerate([(red, "Speed limit (20km/h)"),
                                    (blue, "Speed limit (30km/h)"),
                                    (green, "Speed limit (50km/h)")]):
    header, *ranks = blocks[6 * i:6 * i + 6]
    assert header == str(path)
    assert ranks[0].endswith(sign), ranks[0]
    percents = [float(re.search(r"([\d.]+)%", r).group(1)) for r in ranks]
    assert percents == sorted(percents, reverse=True)
    assert 0 < sum(percents) <= 100.01


def test_probabilities_match_for_resized_copies(exported_model):
  model = predictor.Predictor(_saved_model(exported_model))
  try:
    image = _noisy((200, 30, 30), 40, 40, 3)
    bigger = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    probs = model.probabilities([image, bigger])
  finally:
    model.close()
  assert probs.shape == (2, 43)
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
  assert probs[0].argmax() == probs[1].argmax() == 0
  top = predictor.top_k(probs[0], model.class_names, k=5)
  assert [t[0] for t in top] == list(np.argsort(-probs[0])[:5])
  assert top[0][1] == "Speed limit (20km/h)"


def test_bad_images_and_saved_model(tmp_path):
  bad = tmp_path / "sign.ppm"
  bad.write_text("not an image")
  with pytest.raises(UserError, match=f"image {bad} is unreadable"):
    image_files.read_image(str(bad))
  with pytest.raises(UserError, match="does not exist"):
    image_files.read_image(str(tmp_path / "missing.png"))
  with pytest.raises(UserError, match="holds no SavedModel"):
    predictor.Predictor(str(tmp_path))
