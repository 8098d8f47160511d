"""A synthetic GTSRB, written in the official on-disk layout.

Stands in for the real German Traffic Sign Recognition Benchmark where it is
not available (tests, demos, smoke runs). Each track is one sign instance seen
in several frames at growing size, like a car approaching it, each frame under
its own small rotation, perspective, blur, lighting and noise on a cluttered
background, cropped with a ~10% margin (at least 5 px) around the sign like
the official images. Layouts:

  train: GTSRB/Final_Training/Images/000NN/TTTTT_FFFFF.ppm + 000NN/GT-000NN.csv
  test:  GTSRB/Final_Test/Images/NNNNN.ppm + GT-final_test.csv (with ClassId)

Every track draws from its own numpy Generator seeded with (seed, layout,
class, track), so the bytes written depend only on the arguments, not on the
number of processes or their scheduling.
"""

import collections
import dataclasses
import functools
import math
import multiprocessing
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm import tqdm

from alexnet.datasets.gtsrb_layout import GTRow, read_gt_csv, train_csv_name
from alexnet.datasets.gtsrb_layout import write_gt_csv
from alexnet.datasets.sign_drawing import draw_sign
from alexnet.core.errors import UserError
from alexnet.core.atomic_files import atomic_dir, atomic_path
from alexnet.datasets.signnames import NUM_CLASSES

LAYOUTS = ("train", "test")
TEST_CSV = "GT-final_test.csv"
CONTACT_SHEET = "contact_sheet.png"
_IMAGES_SUBDIR = {"train": ("GTSRB", "Final_Training", "Images"),
                  "test": ("GTSRB", "Final_Test", "Images")}
# Separates the random streams of the two layouts: a test set made with the
# same seed as a training set holds other sign instances.
_LAYOUT_STREAM = {"train": 0, "test": 1}

_SOURCE_PX = 512  # Clean signs are warped from this resolution.
_CANVAS_PX = 96  # Frames are composed at least this large, then downsampled.
_SCENE_PX = 256  # Each track's background scene.

# Contact sheet geometry, in pixels.
CELL_PX = 48
LABEL_PX = 40
GAP_PX = 2


def images_folder(output_dir, layout="train"):
  """Where `generate(output_dir, layout=...)` puts the images."""
  return os.path.join(output_dir, *_IMAGES_SUBDIR[layout])


def generate(output_dir, tracks_per_class=10, frames_per_track=10, seed=0,
             layout="train", overwrite=False, processes=2):
  """Renders the synthetic data set into `output_dir`, atomically.

  Returns a summary dict: images_dir, layout, images_per_class (a list of 43
  counts), total, contact_sheet (the PNG saved beside GTSRB/).
  Raises UserError for bad arguments or an existing output without
  `overwrite`.
  """
  for name, value in (("tracks_per_class", tracks_per_class),
                      ("frames_per_track", frames_per_track),
                      ("processes", processes)):
    if not isinstance(value, int) or value < 1:
      raise UserError(f"{name}={value!r}: must be a whole number of at least 1")
  if not isinstance(seed, int) or seed < 0:
    raise UserError(f"seed={seed!r}: must be a whole number of at least 0")
  if layout not in LAYOUTS:
    raise UserError(f"layout={layout!r}: must be one of {', '.join(LAYOUTS)}")
  names = _file_names(layout, seed, tracks_per_class, frames_per_track)
  jobs = [(seed, layout, c, t, names[c, t])
          for c in range(NUM_CLASSES) for t in range(tracks_per_class)]
  rows = []
  with atomic_dir(output_dir, overwrite) as tmp:
    out = images_folder(tmp, layout)
    os.makedirs(out)
    for c in range(NUM_CLASSES) if layout == "train" else ():
      os.mkdir(os.path.join(out, f"{c:05d}"))
    with tqdm(total=len(jobs) * frames_per_track, unit="img",
              desc=f"synthetic GTSRB ({layout})") as bar:
      for track_rows in _map_tracks(out, jobs, processes):
        rows.extend(track_rows)
        bar.update(len(track_rows))
    _write_csvs(out, layout, rows)
    contact_sheet(out, os.path.join(tmp, CONTACT_SHEET), seed=seed)
  counts = collections.Counter(r.class_id for r in rows)
  return {"images_dir": images_folder(output_dir, layout), "layout": layout,
          "images_per_class": [counts[c] for c in range(NUM_CLASSES)],
          "total": len(rows),
          "contact_sheet": os.path.join(output_dir, CONTACT_SHEET)}


def _file_names(layout, seed, tracks, frames):
  """{(class, track): [frame file names]}; test names are shuffled ids."""
  keys = [(c, t) for c in range(NUM_CLASSES) for t in range(tracks)]
  if layout == "train":
    return {(c, t): [f"{t:05d}_{f:05d}.ppm" for f in range(frames)]
            for c, t in keys}
  ids = np.random.default_rng([seed, _LAYOUT_STREAM[layout]]).permutation(
      len(keys) * frames)
  digits = max(5, len(str(len(ids) - 1)))
  return {key: [f"{ids[i * frames + f]:0{digits}d}.ppm" for f in range(frames)]
          for i, key in enumerate(keys)}


def _map_tracks(out, jobs, processes):
  """Yields each track's rows as it finishes, from `processes` workers."""
  render = functools.partial(_render_track, out)
  if processes == 1:
    yield from map(render, jobs)
    return
  # Spawned, not forked: the caller may hold TensorFlow threads and locks.
  with multiprocessing.get_context("spawn").Pool(processes) as pool:
    yield from pool.imap_unordered(render, jobs)


def _write_csvs(out, layout, rows):
  rows = sorted(rows, key=lambda r: r.filename)
  if layout == "test":
    write_gt_csv(os.path.join(out, TEST_CSV), rows)
    return
  for c in range(NUM_CLASSES):
    write_gt_csv(os.path.join(out, f"{c:05d}", train_csv_name(c)),
                 [r for r in rows if r.class_id == c])


@dataclasses.dataclass
class _TrackStyle:
  """What stays (or drifts smoothly) through one track's frames."""
  sizes: np.ndarray  # The sign's nominal width in output pixels, per frame.
  yaw: np.ndarray  # Degrees, per frame.
  pitch: float
  roll: float
  window: float  # Background field of view in scene pixels at frame 0.
  center: np.ndarray  # Background window center at the first and last frame.
  pole: tuple  # (colour, width as a fraction of the sign) or None.
  blur: float
  motion_blur: bool
  gamma: float
  gain: float
  cast: np.ndarray
  shade: float
  shade_angle: float
  haze: float
  haze_colour: np.ndarray
  noise: float


def _track_style(rng, frames):
  end = float(np.clip(np.exp(rng.normal(math.log(40), 0.42)), 14, 210))
  start = max(9.0, end / rng.uniform(1.4, 2.5))
  yaw0 = rng.uniform(-35, 35)
  return _TrackStyle(
      sizes=np.geomspace(start, end, frames),
      yaw=yaw0 + np.linspace(0, rng.uniform(-8, 8), frames)
      + rng.normal(0, 1, frames),
      pitch=rng.uniform(-15, 15),
      roll=float(np.clip(rng.normal(0, 4), -10, 10)),
      window=rng.uniform(0.25, 0.5) * _SCENE_PX,
      center=rng.uniform(0.4, 0.6, (2, 2)) * _SCENE_PX,
      pole=((tuple(int(v) for v in rng.integers(70, 180, 3)),
             rng.uniform(0.05, 0.12)) if rng.random() < 0.6 else None),
      blur=rng.uniform(0, 0.8),
      motion_blur=rng.random() < 0.15,
      gamma=rng.uniform(0.75, 1.35),
      gain=math.exp(rng.uniform(math.log(0.45), math.log(1.35))),
      cast=1 + rng.normal(0, 0.06, 3),
      shade=rng.uniform(0, 0.35),
      shade_angle=rng.uniform(0, 2 * math.pi),
      haze=rng.uniform(0, 0.25),
      haze_colour=rng.uniform(0.55, 0.9) + rng.normal(0, 0.04, 3),
      noise=rng.uniform(0.003, 0.03))


def _render_track(out, job):
  """Renders and writes one track's frames; returns their GTRows."""
  seed, layout, class_id, track, names = job
  rng = np.random.default_rng(
      [seed, _LAYOUT_STREAM[layout], class_id, track])
  style = _track_style(rng, len(names))
  scene = _scene(rng)
  levels = _weathered(_source_sign(class_id), rng)
  folder = os.path.join(out, f"{class_id:05d}") if layout == "train" else out
  rows = []
  for frame, name in enumerate(names):
    image, roi = _render_frame(levels, scene, style, frame, rng)
    image.save(os.path.join(folder, name), format="PPM")
    rows.append(GTRow(name, image.width, image.height, *roi, class_id))
  return rows


@functools.lru_cache(maxsize=None)
def _source_sign(class_id):
  # Not antialiased: every frame is resampled from it to a smaller size.
  return draw_sign(class_id, _SOURCE_PX)


def _weathered(sign, rng):
  """The sign faded towards grey and brightened or darkened, as signs age.

  Returns it premultiplied (mode RGBa, which the warp works in) at
  _SOURCE_PX and at successive halvings down to _CANVAS_PX, so that each frame
  is warped from a level near its own size rather than aliased from far
  above it.
  """
  rgb = sign.convert("RGB")
  rgb = Image.blend(rgb, rgb.convert("L").convert("RGB"), rng.uniform(0, 0.3))
  gain = rng.uniform(0.85, 1.15)
  rgb = rgb.point([min(255, round(v * gain)) for v in range(256)] * 3)
  rgb.putalpha(sign.getchannel("A"))
  levels = [rgb.convert("RGBa")]
  while levels[-1].width // 2 >= _CANVAS_PX:
    levels.append(levels[-1].reduce(2))
  return levels


# Background colours: sky, foliage, buildings, road, shadows, and a few vivid
# ones (cars, shop signs) so that colour alone never gives the class away.
_PALETTE = np.array([
    (150, 180, 215), (200, 210, 225), (235, 235, 240), (60, 95, 45),
    (90, 125, 60), (40, 60, 30), (120, 110, 95), (160, 150, 135), (95, 90, 85),
    (70, 70, 75), (30, 30, 32), (140, 85, 60), (185, 170, 140), (200, 40, 40),
    (40, 70, 160), (230, 190, 40)], np.float32)


def _colour(rng):
  rgb = _PALETTE[rng.integers(len(_PALETTE))] + rng.normal(0, 14, 3)
  return tuple(int(v) for v in np.clip(rgb, 0, 255))


def _scene(rng):
  """A random cluttered, slightly out-of-focus background."""
  s = _SCENE_PX
  t = np.linspace(0, 1, s, dtype=np.float32)[:, None, None]
  top, bottom = np.array(_colour(rng)), np.array(_colour(rng))
  gradient = np.broadcast_to(top * (1 - t) + bottom * t, (s, s, 3))
  scene = Image.fromarray(gradient.astype(np.uint8), "RGB")
  draw = ImageDraw.Draw(scene)
  for _ in range(rng.integers(10, 40)):
    x, y = rng.uniform(-0.1 * s, s, 2)
    w, h = rng.uniform(0.02 * s, 0.5 * s, 2)
    kind = rng.integers(4)
    if kind == 0:
      draw.rectangle((x, y, x + w, y + h), fill=_colour(rng))
    elif kind == 1:
      draw.ellipse((x, y, x + w, y + h), fill=_colour(rng))
    elif kind == 2:
      draw.line((x, y, x + w * rng.choice((-1, 1)), y + h), fill=_colour(rng),
                width=int(rng.integers(1, 12)))
    else:
      points = rng.uniform(0, 1, (int(rng.integers(3, 6)), 2)) * (w, h) + (x, y)
      draw.polygon([tuple(p) for p in points], fill=_colour(rng))
  return scene.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.5)))


def _rotation(yaw, pitch, roll):
  y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
  yaw_m = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0],
                    [-math.sin(y), 0, math.cos(y)]])
  pitch_m = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)],
                      [0, math.sin(p), math.cos(p)]])
  roll_m = np.array([[math.cos(r), -math.sin(r), 0],
                     [math.sin(r), math.cos(r), 0], [0, 0, 1]])
  return roll_m @ pitch_m @ yaw_m


def _sign_quad(width_px, yaw, pitch, roll):
  """Image corners of the sign's square, turned in 3D and projected."""
  corners = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float)
  turned = corners @ _rotation(yaw, pitch, roll).T
  distance = 6.0  # Camera distance in sign half-widths: mild perspective.
  projected = turned[:, :2] * distance / (distance + turned[:, 2:])
  return projected * width_px / 2


def _perspective_coeffs(dst, src):
  """PIL PERSPECTIVE data mapping output points `dst` to input points `src`."""
  a, b = [], []
  for (x, y), (u, v) in zip(dst, src):
    a.append([x, y, 1, 0, 0, 0, -x * u, -y * u])
    a.append([0, 0, 0, x, y, 1, -x * v, -y * v])
    b += [u, v]
  return tuple(np.linalg.solve(np.array(a), np.array(b)))


def _warp(levels, width_px, yaw, pitch, roll):
  """The sign seen under the given pose, in an RGBA canvas just around it."""
  sign = next((level for level in reversed(levels) if level.width >= width_px),
              levels[0])
  quad = _sign_quad(width_px, yaw, pitch, roll)
  low = np.floor(quad.min(axis=0)) - 2
  size = tuple(int(v) for v in np.ceil(quad.max(axis=0) - low) + 2)
  s = sign.width
  coeffs = _perspective_coeffs(quad - low, [(0, 0), (s, 0), (s, s), (0, s)])
  return sign.transform(size, Image.Transform.PERSPECTIVE, coeffs,
                        Image.Resampling.BILINEAR).convert("RGBA")


def _render_frame(levels, scene, style, frame, rng):
  """One frame: returns the RGB image and its inclusive ROI (x1, y1, x2, y2)."""
  size = style.sizes[frame]
  k = max(2, math.ceil(_CANVAS_PX / size))  # Supersampling factor.
  warped = _warp(levels, size * k, style.yaw[frame], style.pitch, style.roll)
  ys, xs = np.nonzero(np.asarray(warped.getchannel("A")) >= 128)
  x0, y0 = int(xs.min()), int(ys.min())
  roi_w = max(2, round((xs.max() + 1 - x0) / k))
  roi_h = max(2, round((ys.max() + 1 - y0) / k))
  # Official images keep a 10% border, at least 5 px, around the sign.
  left, right = (max(5, round(0.1 * roi_w)) + int(rng.integers(0, 3))
                 for _ in range(2))
  top, bottom = (max(5, round(0.1 * roi_h)) + int(rng.integers(0, 3))
                 for _ in range(2))
  width, height = left + roi_w + right, top + roi_h + bottom
  canvas = _background(scene, style, frame, (width * k, height * k))
  if style.pole:
    colour, pole_width = style.pole
    cx, cy = (left + roi_w / 2) * k, (top + roi_h / 2) * k
    half = pole_width * size * k / 2
    ImageDraw.Draw(canvas).rectangle((cx - half, cy, cx + half, height * k),
                                     fill=colour)
  layer = warped.crop((x0 - left * k, y0 - top * k,
                       x0 - left * k + width * k, y0 - top * k + height * k))
  canvas = Image.alpha_composite(canvas.convert("RGBA"), layer).convert("RGB")
  image = _camera(canvas.resize((width, height), Image.Resampling.LANCZOS),
                  style, rng)
  return image, (left, top, left + roi_w - 1, top + roi_h - 1)


def _background(scene, style, frame, size):
  """The scene behind the sign; farther away, it grows slower than the sign."""
  growth = style.sizes[frame] / style.sizes[0]
  w = style.window * math.sqrt(growth)
  h = w * size[1] / size[0]
  t = frame / max(1, len(style.sizes) - 1)
  cx, cy = style.center[0] * (1 - t) + style.center[1] * t
  cx = min(max(cx, w / 2), _SCENE_PX - w / 2)
  cy = min(max(cy, h / 2), _SCENE_PX - h / 2)
  return scene.resize(size, Image.Resampling.BILINEAR,
                      box=(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))


def _camera(image, style, rng):
  """Focus blur, exposure, colour cast, uneven light, haze and sensor noise."""
  blur = style.blur + rng.normal(0, 0.15)
  if blur > 0.1:
    image = image.filter(ImageFilter.GaussianBlur(blur))
  if style.motion_blur:
    image = image.filter(ImageFilter.Kernel((3, 3), (0, 0, 0, 1, 1, 1, 0, 0, 0),
                                            scale=3))
  x = (np.asarray(image, np.float32) / 255) ** style.gamma
  h, w = x.shape[:2]
  yy, xx = np.mgrid[-1:1:h * 1j, -1:1:w * 1j]
  light = style.gain * math.exp(rng.normal(0, 0.05)) * (
      1 + style.shade * (xx * math.cos(style.shade_angle)
                         + yy * math.sin(style.shade_angle)))
  x = x * light[..., None] * style.cast
  x = x * (1 - style.haze) + style.haze * style.haze_colour
  x = x + rng.normal(0, style.noise, x.shape)
  return Image.fromarray(np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8), "RGB")


def _images_by_class(folder):
  """[[image path, ...] for each class] of an official-layout folder.

  `folder` is a data set root (holding GTSRB/), a Final_Training/Images
  folder (class folders 000NN) or a Final_Test/Images folder with a labeled
  GT-final_test.csv.
  """
  for layout in LAYOUTS:
    if os.path.isdir(images_folder(folder, layout)):
      return _images_by_class(images_folder(folder, layout))
  by_class = [[] for _ in range(NUM_CLASSES)]
  class_dirs = [os.path.join(folder, f"{c:05d}") for c in range(NUM_CLASSES)]
  if any(os.path.isdir(d) for d in class_dirs):
    for c, d in enumerate(class_dirs):
      if os.path.isdir(d):
        by_class[c] = [os.path.join(d, n) for n in sorted(os.listdir(d))
                       if n.lower().endswith(".ppm")]
    return by_class
  test_csv = os.path.join(folder, TEST_CSV)
  if os.path.isfile(test_csv):
    for row in read_gt_csv(test_csv):
      if row.class_id is None or not 0 <= row.class_id < NUM_CLASSES:
        raise UserError(f"{test_csv}: {row.filename} has no class id in "
                        f"0..{NUM_CLASSES - 1}; use the labeled {TEST_CSV}")
      by_class[row.class_id].append(os.path.join(folder, row.filename))
    return by_class
  raise UserError(f"{folder}: not a GTSRB images folder; expected GTSRB/, "
                  f"class folders 00000..{NUM_CLASSES - 1:05d} or {TEST_CSV}")


def contact_sheet(images_dir, output_png, samples_per_class=8, seed=0):
  """Saves a PNG with one row per class of up to `samples_per_class` images.

  `images_dir` is a data set root holding GTSRB/, a Final_Training/Images
  folder (class folders 000NN) or a Final_Test/Images folder with the labeled
  GT-final_test.csv, real or synthetic. Each row starts with the class id.
  The image is LABEL_PX + n * (CELL_PX + GAP_PX) + GAP_PX wide and NUM_CLASSES * (CELL_PX + GAP_PX) + GAP_PX high. Returns
  `output_png`.
  """
  by_class = _images_by_class(images_dir)
  rng = np.random.default_rng(seed)
  step = CELL_PX + GAP_PX
  sheet = Image.new("RGB", (LABEL_PX + samples_per_class * step + GAP_PX,
                            NUM_CLASSES * step + GAP_PX), (255, 255, 255))
  draw = ImageDraw.Draw(sheet)
  font = ImageFont.load_default(size=CELL_PX * 0.45)
  for c, paths in enumerate(by_class):
    y = GAP_PX + c * step
    draw.text((LABEL_PX / 2, y + CELL_PX / 2), str(c), fill=(0, 0, 0),
              font=font, anchor="mm")
    picks = np.sort(rng.choice(len(paths), min(samples_per_class, len(paths)),
                               replace=False))
    for j, i in enumerate(picks):
      with Image.open(paths[i]) as image:
        thumb = image.convert("RGB")
      scale = CELL_PX / max(thumb.size)
      thumb = thumb.resize((max(1, round(thumb.width * scale)),
                            max(1, round(thumb.height * scale))),
                           Image.Resampling.LANCZOS)
      x = LABEL_PX + j * step
      sheet.paste(thumb, (x + (CELL_PX - thumb.width) // 2,
                          y + (CELL_PX - thumb.height) // 2))
  with atomic_path(output_png) as tmp:
    sheet.save(tmp, format="PNG", compress_level=3)
  return output_png
