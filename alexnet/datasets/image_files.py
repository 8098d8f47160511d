"""Image files of any format Pillow reads, as uint8 RGB arrays."""

import numpy as np
from PIL import Image, UnidentifiedImageError

from alexnet.core.errors import UserError


def read_image(path):
  """An image file (.ppm, .jpg, .png, ...) as uint8 RGB [H, W, 3]."""
  try:
    with Image.open(path) as image:
      return np.asarray(image.convert("RGB"))
  except FileNotFoundError:
    raise UserError(f"image {path} does not exist") from None
  except (UnidentifiedImageError, OSError, SyntaxError) as e:
    raise UserError(f"image {path} is unreadable ({e}): pass a .ppm, .jpg or "
                    ".png image") from None
