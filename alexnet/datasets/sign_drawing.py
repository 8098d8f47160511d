"""Clean pictures of the 43 GTSRB signs, drawn from simple shapes.

Each sign is drawn in normalized coordinates: the square picture spans
[-1, 1] on both axes, y pointing down. Shapes and colours follow the German
signs of the data set (red-ringed prohibitions, red-bordered warning
triangles, blue mandatory discs, striped "end of" discs); the pictograms are
geometric approximations, different for every class.
"""

import functools
import math

from PIL import Image, ImageDraw, ImageFont

from alexnet.datasets.signnames import NUM_CLASSES

RED = (200, 18, 32, 255)
BLUE = (0, 84, 165, 255)
YELLOW = (250, 192, 0, 255)
WHITE = (246, 246, 242, 255)
BLACK = (24, 24, 24, 255)
GREY = (128, 128, 128, 255)
LIGHT_RED = (230, 28, 28, 255)
AMBER = (250, 168, 0, 255)
GREEN = (0, 156, 72, 255)

# Shapes are drawn at least this large, then downsampled, for smooth edges.
_MIN_DRAW_PX = 1024


class _Pen:
  """Draws on an RGBA image in a local frame mapped linearly to pixels."""

  def __init__(self, image, origin, scale):
    self.image = image
    self.draw = ImageDraw.Draw(image)
    self._origin = origin
    self._scale = scale  # (sx, sy); a negative sx mirrors left-right.

  def frame(self, cx, cy, scale, mirror=False):
    """A pen whose [-1, 1] square is centered at (cx, cy), `scale` wide."""
    sx, sy = self._scale
    return _Pen(self.image, self.xy((cx, cy)),
                (sx * scale * (-1 if mirror else 1), sy * scale))

  def xy(self, point):
    return (self._origin[0] + self._scale[0] * point[0],
            self._origin[1] + self._scale[1] * point[1])

  def _px(self, length):
    return abs(self._scale[1]) * length

  def polygon(self, points, fill):
    self.draw.polygon([self.xy(p) for p in points], fill=fill)

  def circle(self, center, radius, fill=None, outline=None, width=0.0):
    x, y = self.xy(center)
    r = self._px(radius)
    self.draw.ellipse((x - r, y - r, x + r, y + r), fill=fill, outline=outline,
                      width=max(1, round(self._px(width))) if outline else 0)

  def line(self, points, width, fill, round_ends=True):
    self.draw.line([self.xy(p) for p in points], fill=fill,
                   width=max(1, round(self._px(width))), joint="curve")
    if round_ends:
      for p in (points[0], points[-1]):
        self.circle(p, width / 2, fill=fill)

  def arrow(self, points, width, head_length, head_width, fill):
    """A polyline shaft ending in a triangular head whose tip is points[-1]."""
    base, direction = _point_before_end(points, head_length)
    shaft = _trim_end(points, head_length * 0.8)
    self.line(shaft, width, fill, round_ends=False)
    nx, ny = -direction[1], direction[0]
    half = head_width / 2
    self.polygon([points[-1], (base[0] + nx * half, base[1] + ny * half),
                  (base[0] - nx * half, base[1] - ny * half)], fill)

  def text(self, text, center, width, height, fill):
    """Bold `text` stretched to width x height (sign lettering is condensed)."""
    x0, y0 = self.xy((center[0] - width / 2, center[1] - height / 2))
    w, h = round(self._px(width)), round(self._px(height))
    mask = _text_mask(text).resize((w, h), Image.Resampling.LANCZOS)
    self.image.paste(fill, (round(x0), round(y0), round(x0) + w, round(y0) + h),
                     mask)


@functools.lru_cache(maxsize=None)
def _text_mask(text):
  """A tight white-on-black mask of `text` in Pillow's font, made bold."""
  font = ImageFont.load_default(size=200)
  stroke = 9  # Thickens the regular built-in font into sign-like bold strokes.
  left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
  mask = Image.new("L", (right - left, bottom - top), 0)
  ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font,
                            stroke_width=stroke, stroke_fill=255)
  return mask


def _polyline_length(points):
  return sum(math.dist(a, b) for a, b in zip(points, points[1:]))


def _trim_end(points, length):
  """`points` shortened by `length` along the path from its end."""
  remaining = _polyline_length(points) - length
  out = [points[0]]
  for a, b in zip(points, points[1:]):
    step = math.dist(a, b)
    if step >= remaining:
      t = remaining / step if step else 0.0
      out.append((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t))
      return out
    out.append(b)
    remaining -= step
  return out


def _point_before_end(points, length):
  """The point `length` before the path's end, and the unit chord to the end."""
  base = _trim_end(points, length)[-1]
  dx, dy = points[-1][0] - base[0], points[-1][1] - base[1]
  norm = math.hypot(dx, dy)
  return base, (dx / norm, dy / norm)


def _arc(cx, cy, radius, start_deg, end_deg, steps=32):
  """Points on a circular arc; angles in degrees, clockwise on screen."""
  return [(cx + radius * math.cos(math.radians(a)),
           cy + radius * math.sin(math.radians(a)))
          for a in (start_deg + (end_deg - start_deg) * i / steps
                    for i in range(steps + 1))]


def _rounded_regular_polygon(n, center, radius, rotation_deg, corner):
  """Outline of a regular n-gon with corners rounded by `corner`.

  `radius` is the circumradius of the sharp polygon whose edges the rounded
  one touches.
  """
  inner = radius - corner / math.cos(math.pi / n)
  points = []
  for i in range(n):
    a = math.radians(rotation_deg) + 2 * math.pi * i / n
    vx, vy = center[0] + inner * math.cos(a), center[1] + inner * math.sin(a)
    # The outward normals of the two edges meeting here bound the corner arc.
    a0, a1 = a - math.pi / n, a + math.pi / n
    for k in range(9):
      t = a0 + (a1 - a0) * k / 8
      points.append((vx + corner * math.cos(t), vy + corner * math.sin(t)))
  return points


def _layered_polygon(pen, n, center, radius, rotation_deg, corner, layers):
  """Nested rounded polygons: `layers` is [(inset, colour), ...] outside in."""
  for inset, colour in layers:
    pen.polygon(_rounded_regular_polygon(
        n, center, radius - inset / math.cos(math.pi / n), rotation_deg,
        max(corner - inset, 0.01)), colour)


# Equilateral triangles two units wide, centered in the square.
_TRIANGLE_RADIUS = 2 / math.sqrt(3) * 0.97
_TRIANGLE_CENTER_Y = _TRIANGLE_RADIUS / 4


def _warning_triangle(pen):
  """Red-bordered white triangle, point up; returns the pictogram's pen."""
  _layered_polygon(pen, 3, (0, _TRIANGLE_CENTER_Y), _TRIANGLE_RADIUS, -90, 0.16,
                   [(0, WHITE), (0.035, RED), (0.22, WHITE)])
  return pen.frame(0, 0.25, 0.37)


def _disc(pen, layers):
  """Concentric discs: `layers` is [(radius, colour), ...] outside in."""
  for radius, colour in layers:
    pen.circle((0, 0), radius, fill=colour)


def _prohibition_disc(pen):
  """Red ring on white; returns the pictogram's pen."""
  _disc(pen, [(0.99, WHITE), (0.955, RED), (0.76, WHITE)])
  return pen.frame(0, 0, 0.55)


def _end_disc(pen):
  """White disc with a thin dark edge, for the "end of" signs."""
  _disc(pen, [(0.99, GREY), (0.955, WHITE)])


def _end_stripes(pen):
  """The diagonal band of thin black lines, top right to bottom left."""
  radius = 0.93
  d = (-math.sqrt(0.5), math.sqrt(0.5))
  n = (math.sqrt(0.5), math.sqrt(0.5))
  for k in range(-2, 3):
    offset = 0.085 * k
    half = math.sqrt(radius**2 - offset**2)
    c = (n[0] * offset, n[1] * offset)
    pen.line([(c[0] - d[0] * half, c[1] - d[1] * half),
              (c[0] + d[0] * half, c[1] + d[1] * half)], 0.035, BLACK,
             round_ends=False)


def _blue_disc(pen):
  """Blue mandatory disc; returns the pictogram's pen."""
  _disc(pen, [(0.99, WHITE), (0.955, BLUE)])
  return pen.frame(0, 0, 0.6)


def _speed_digits(pen, number, colour):
  digits = str(number)
  pen.text(digits, (0, 0.01), 0.42 * len(digits) + 0.08, 0.74, colour)


# Vehicles, each drawn in its own [-1, 1] frame.
def _car_rear(pen, colour, window=WHITE):
  pen.polygon([(-0.6, -0.75), (0.6, -0.75), (0.82, -0.1), (-0.82, -0.1)],
              colour)
  pen.polygon([(-0.95, -0.2), (0.95, -0.2), (0.95, 0.5), (-0.95, 0.5)], colour)
  for side in (-1, 1):
    pen.polygon([(side * 0.9, 0.45), (side * 0.5, 0.45), (side * 0.5, 0.85),
                 (side * 0.9, 0.85)], colour)
  pen.polygon([(-0.45, -0.62), (0.45, -0.62), (0.6, -0.22), (-0.6, -0.22)],
              window)


def _truck_rear(pen, colour):
  pen.polygon([(-0.9, -0.95), (0.9, -0.95), (0.9, 0.5), (-0.9, 0.5)], colour)
  for side in (-1, 1):
    pen.polygon([(side * 0.85, 0.45), (side * 0.4, 0.45), (side * 0.4, 0.85),
                 (side * 0.85, 0.85)], colour)


def _truck_side(pen, colour):
  pen.polygon([(-0.95, -0.1), (-0.78, -0.48), (-0.46, -0.48), (-0.46, 0.35),
               (-0.95, 0.35)], colour)
  pen.polygon([(-0.84, -0.1), (-0.73, -0.38), (-0.56, -0.38), (-0.56, -0.1)],
              WHITE)
  pen.polygon([(-0.4, -0.62), (0.95, -0.62), (0.95, 0.35), (-0.4, 0.35)],
              colour)
  for x in (-0.7, 0.42, 0.74):
    pen.circle((x, 0.42), 0.17, fill=colour)


def _walker(pen, colour=BLACK):
  """A person walking to the right."""
  pen.circle((0.08, -0.78), 0.17, fill=colour)
  pen.line([(0.02, -0.52), (-0.04, 0.12)], 0.32, colour)
  pen.line([(-0.04, 0.1), (0.28, 0.5), (0.42, 0.9)], 0.2, colour)
  pen.line([(-0.04, 0.1), (-0.2, 0.52), (-0.46, 0.86)], 0.2, colour)
  pen.line([(0.02, -0.42), (0.3, -0.12), (0.42, 0.16)], 0.15, colour)
  pen.line([(0.02, -0.42), (-0.24, -0.14), (-0.34, 0.14)], 0.15, colour)


# Pictograms of the warning triangles, in the triangle's pictogram frame.
def _exclamation(p):
  p.polygon([(-0.17, -0.95), (0.17, -0.95), (0.1, 0.42), (-0.1, 0.42)], BLACK)
  p.circle((0, 0.76), 0.16, fill=BLACK)


def _crossroads(p):
  p.polygon([(-0.07, -1.0), (0.07, -1.0), (0.2, 0.95), (-0.2, 0.95)], BLACK)
  p.polygon([(-0.78, -0.16), (0.78, -0.16), (0.78, 0.04), (-0.78, 0.04)], BLACK)


def _curve_left(p):
  path = ([(0.32, 0.95)] + _arc(-0.13, 0.0, 0.45, 0, -90) + [(-0.8, -0.45)])
  p.arrow(path, 0.24, 0.38, 0.6, BLACK)


def _double_curve(p):
  path = [(-0.42 * math.sin(2 * math.pi * t), 0.95 - 1.9 * t)
          for t in (i / 40 * 0.92 for i in range(41))]
  p.arrow(path, 0.22, 0.36, 0.56, BLACK)


def _bumps(p):
  top = [(u, 0.45 - 0.6 * max(0.0, math.cos(math.pi * (abs(u) - 0.45) / 0.7)))
         for u in (-0.95 + 1.9 * i / 40 for i in range(41))]
  p.polygon(top + [(0.95, 0.78), (-0.95, 0.78)], BLACK)


def _skidding_car(p):
  _car_rear(p.frame(0, -0.45, 0.42), BLACK)
  for side in (-1, 1):
    p.line([(side * (0.22 + 0.22 * math.sin(3 * math.pi * t)), 0.05 + 0.9 * t)
            for t in (i / 24 for i in range(25))], 0.13, BLACK)


def _narrows_right(p):
  p.line([(-0.48, -0.9), (-0.48, 0.95)], 0.2, BLACK, round_ends=False)
  p.line([(0.52, 0.95), (0.52, 0.28), (0.12, -0.2), (0.12, -0.9)], 0.2, BLACK,
         round_ends=False)


def _road_work(p):
  p.line([(-0.95, 0.9), (0.95, 0.9)], 0.1, BLACK, round_ends=False)
  p.polygon([(0.18, 0.9), (0.55, 0.42), (0.95, 0.9)], BLACK)
  p.circle((-0.12, -0.74), 0.16, fill=BLACK)
  p.line([(-0.18, -0.52), (-0.36, 0.14)], 0.28, BLACK)
  p.line([(-0.36, 0.14), (-0.1, 0.5), (-0.04, 0.88)], 0.15, BLACK)
  p.line([(-0.36, 0.14), (-0.62, 0.52), (-0.78, 0.88)], 0.15, BLACK)
  p.line([(-0.2, -0.42), (0.06, -0.12), (0.24, 0.04)], 0.12, BLACK)
  p.line([(-0.06, -0.3), (0.42, 0.36)], 0.07, BLACK)
  p.polygon([(0.34, 0.32), (0.52, 0.2), (0.64, 0.5), (0.5, 0.58)], BLACK)


def _traffic_light(p):
  p.polygon([(-0.3, -0.97), (0.3, -0.97), (0.3, 0.97), (-0.3, 0.97)], BLACK)
  for y, colour in ((-0.6, LIGHT_RED), (0.0, AMBER), (0.6, GREEN)):
    p.circle((0, y), 0.21, fill=colour)


def _pedestrian(p):
  _walker(p)


def _children(p):
  _walker(p.frame(0.38, -0.02, 0.95))
  _walker(p.frame(-0.42, 0.3, 0.66))
  p.line([(-0.95, 0.95), (0.95, 0.95)], 0.08, BLACK, round_ends=False)


def _bicycle(p):
  for x in (-0.55, 0.55):
    p.circle((x, 0.5), 0.36, outline=BLACK, width=0.13)
  p.line([(-0.55, 0.5), (-0.08, 0.5), (0.36, -0.05), (-0.22, -0.05),
          (-0.55, 0.5)], 0.12, BLACK)
  p.line([(-0.08, 0.5), (-0.3, -0.3)], 0.12, BLACK)
  p.line([(-0.46, -0.32), (-0.1, -0.32)], 0.14, BLACK)
  p.line([(0.55, 0.5), (0.28, -0.36), (0.04, -0.4)], 0.12, BLACK)


def _snowflake(p):
  cy = 0.1
  for k in range(6):
    a = math.radians(90 + 60 * k)
    dx, dy = math.cos(a), math.sin(a)
    p.line([(0, cy), (0.78 * dx, cy + 0.78 * dy)], 0.14, BLACK)
    for side in (-1, 1):
      b = a + side * math.radians(45)
      sx, sy = 0.45 * dx, cy + 0.45 * dy
      p.line([(sx, sy), (sx + 0.24 * math.cos(b), sy + 0.24 * math.sin(b))],
             0.11, BLACK)


def _deer(p):
  """A deer leaping to the left."""
  body = [(0.15 + 0.52 * math.cos(t) * math.cos(-0.45)
           - 0.2 * math.sin(t) * math.sin(-0.45),
           0.12 + 0.52 * math.cos(t) * math.sin(-0.45)
           + 0.2 * math.sin(t) * math.cos(-0.45))
          for t in (2 * math.pi * i / 32 for i in range(32))]
  p.polygon(body, BLACK)
  p.polygon([(-0.34, 0.0), (-0.52, -0.42), (-0.36, -0.5), (-0.16, -0.12)],
            BLACK)
  p.polygon([(-0.6, -0.42), (-0.4, -0.58), (-0.3, -0.46), (-0.5, -0.32)], BLACK)
  p.line([(-0.4, -0.55), (-0.3, -0.92)], 0.09, BLACK)
  p.line([(-0.35, -0.75), (-0.16, -0.84)], 0.09, BLACK)
  p.line([(-0.46, -0.55), (-0.6, -0.86)], 0.09, BLACK)
  p.line([(-0.3, 0.05), (-0.62, 0.22), (-0.9, 0.2)], 0.13, BLACK)
  p.line([(-0.26, 0.12), (-0.5, 0.42), (-0.74, 0.5)], 0.13, BLACK)
  p.line([(0.55, -0.02), (0.78, 0.42), (0.96, 0.76)], 0.14, BLACK)
  p.line([(0.5, 0.08), (0.62, 0.5), (0.72, 0.9)], 0.14, BLACK)


# Arrows of the blue mandatory discs, in the disc's pictogram frame.
_ARROW = {"width": 0.26, "head_length": 0.46, "head_width": 0.78, "fill": WHITE}


def _ahead(p):
  p.arrow([(0, 0.9), (0, -0.9)], **_ARROW)


def _turn_right(p):
  p.arrow([(-0.3, 0.9)] + _arc(0.16, 0.05, 0.46, 180, 270) + [(0.9, -0.41)],
          **_ARROW)


def _straight_or_right(p):
  p.arrow([(-0.25, 0.9), (-0.25, -0.9)], **_ARROW)
  p.arrow([(-0.25, 0.4)] + _arc(0.15, 0.4, 0.4, 180, 270) + [(0.92, 0.0)],
          **_ARROW)


def _keep_right(p):
  p.arrow([(-0.62, -0.62), (0.66, 0.66)], **_ARROW)


def _roundabout(p):
  for k in range(3):
    start = 110 + 120 * k
    p.arrow(_arc(0, 0, 0.6, start, start - 82), 0.22, 0.34, 0.56, WHITE)


def _triangle_sign(pictogram, mirror=False):
  def draw(pen):
    pictogram(_warning_triangle(pen).frame(0, 0, 1, mirror))
  return draw


def _speed_sign(number):
  def draw(pen):
    _prohibition_disc(pen)
    _speed_digits(pen, number, BLACK)
  return draw


def _prohibition_sign(pictogram):
  def draw(pen):
    pictogram(_prohibition_disc(pen))
  return draw


def _end_sign(pictogram):
  def draw(pen):
    _end_disc(pen)
    pictogram(pen.frame(0, 0, 0.62))
    _end_stripes(pen)
  return draw


def _mandatory_sign(pictogram, mirror=False):
  def draw(pen):
    pictogram(_blue_disc(pen).frame(0, 0, 1, mirror))
  return draw


def _overtaking(left, right):
  """Two vehicles side by side, as on the (end of) no passing signs."""
  def draw(p):
    left(p.frame(-0.5, 0.05, 0.42))
    right(p.frame(0.5, 0.05, 0.42))
  return draw


def _nothing(unused_pen):
  pass


def _priority_road(pen):
  _layered_polygon(pen, 4, (0, 0), 0.99, -90, 0.04,
                   [(0, BLACK), (0.025, WHITE), (0.38, BLACK), (0.405, YELLOW)])


def _yield(pen):
  _layered_polygon(pen, 3, (0, -_TRIANGLE_CENTER_Y), _TRIANGLE_RADIUS, 90, 0.16,
                   [(0, WHITE), (0.035, RED), (0.25, WHITE)])


def _stop(pen):
  _layered_polygon(pen, 8, (0, 0), 0.99 / math.cos(math.pi / 8), 22.5, 0.06,
                   [(0, WHITE), (0.04, RED)])
  pen.text("STOP", (0, 0), 1.4, 0.5, WHITE)


def _no_entry(pen):
  _disc(pen, [(0.99, WHITE), (0.955, RED)])
  pen.polygon([(-0.66, -0.17), (0.66, -0.17), (0.66, 0.17), (-0.66, 0.17)],
              WHITE)


def _grey_car(p):
  _car_rear(p, GREY)


def _grey_truck(p):
  _truck_rear(p, GREY)


_SIGNS = (
    _speed_sign(20), _speed_sign(30), _speed_sign(50), _speed_sign(60),
    _speed_sign(70), _speed_sign(80),
    _end_sign(lambda p: _speed_digits(p.frame(0, 0, 1 / 0.62), 80, GREY)),  # 6
    _speed_sign(100), _speed_sign(120),
    _prohibition_sign(_overtaking(lambda p: _car_rear(p, RED),
                                  lambda p: _car_rear(p, BLACK))),  # 9
    _prohibition_sign(_overtaking(lambda p: _truck_rear(p, RED),
                                  lambda p: _car_rear(p, BLACK))),  # 10
    _triangle_sign(_crossroads),  # 11
    _priority_road, _yield, _stop,  # 12-14
    _prohibition_sign(_nothing),  # 15
    _prohibition_sign(lambda p: _truck_side(p.frame(0, 0.05, 0.98), BLACK)),
    _no_entry,  # 17
    _triangle_sign(_exclamation),  # 18
    _triangle_sign(_curve_left), _triangle_sign(_curve_left, mirror=True),
    _triangle_sign(_double_curve), _triangle_sign(_bumps),
    _triangle_sign(_skidding_car), _triangle_sign(_narrows_right),
    _triangle_sign(_road_work), _triangle_sign(_traffic_light),
    _triangle_sign(_pedestrian), _triangle_sign(_children),
    _triangle_sign(_bicycle), _triangle_sign(_snowflake),
    _triangle_sign(_deer),  # 31
    _end_sign(_nothing),  # 32
    _mandatory_sign(_turn_right), _mandatory_sign(_turn_right, mirror=True),
    _mandatory_sign(_ahead), _mandatory_sign(_straight_or_right),
    _mandatory_sign(_straight_or_right, mirror=True),
    _mandatory_sign(_keep_right), _mandatory_sign(_keep_right, mirror=True),
    _mandatory_sign(_roundabout),  # 40
    _end_sign(_overtaking(_grey_car, _grey_car)),  # 41
    _end_sign(_overtaking(_grey_truck, _grey_car)),  # 42
)
assert len(_SIGNS) == NUM_CLASSES


def draw_sign(class_id, side_px):
  """The sign of `class_id` drawn directly at side_px, edges not antialiased.

  For callers that resample it anyway; render_sign gives smooth edges.
  Outside the sign is fully transparent (RGBA).
  """
  if not 0 <= class_id < NUM_CLASSES:
    raise ValueError(f"class_id {class_id} is not in 0..{NUM_CLASSES - 1}")
  image = Image.new("RGBA", (side_px, side_px), (0, 0, 0, 0))
  _SIGNS[class_id](_Pen(image, (side_px / 2, side_px / 2),
                        (side_px / 2, side_px / 2)))
  return image


def render_sign(class_id, size_px):
  """The clean sign of `class_id` as a size_px square RGBA image.

  Outside the sign is fully transparent. Drawn large and downsampled with
  antialiasing so that small renderings keep their detail.
  """
  factor = max(1, math.ceil(_MIN_DRAW_PX / size_px))
  image = draw_sign(class_id, size_px * factor)
  return image.reduce(factor) if factor > 1 else image
