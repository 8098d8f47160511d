"""Image files of any format Pillow reads, as uint8 RGB arrays."""

import io

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


def check_decodes(data, path):
  """UserError naming `path` unless its bytes `data` decode as an image in
  full (a file can carry the right markers around a corrupt body)."""
  try:
    with Image.open(io.BytesIO(data)) as image:
      image.load()
  except UnidentifiedImageError:
    raise UserError(f"image {path} does not decode (no image format "
                    "recognized): convert it again or remove it") from None
  except (OSError, SyntaxError, ValueError) as e:
    raise UserError(f"image {path} does not decode ({e}): convert it again "
                    "or remove it") from None
