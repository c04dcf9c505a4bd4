"""Colour hints a person gives: points of known colour (JSON) and painted strokes (PNG).

Formats (docs/hints.md has the schema):

* Points: ``{"points": [{"x": 412, "y": 130, "color": "#1f4e9a", "radius": 6}, ...]}``; ``x``
  and ``y`` in pixels of the photo as displayed upright (EXIF orientation applied), origin at the
  top-left; ``color`` sRGB ``#rrggbb``; ``radius`` (optional, pixels) how large the patch of
  known colour is, by default :func:`default_radius`.
* Strokes: a PNG the size of the photo, transparent where nothing is known and opaque where the
  colour is known (a layer painted in GIMP, Krita or Photoshop and exported).

Only a hint's a and b are used; the photo's own lightness stays. For ``scans/family.jpg`` the
files ``scans/family.hints.json`` and ``scans/family.hints.png`` beside it are its hints
(:func:`hint_files_for`); both may be given. :meth:`Hints.raster` brings hints to the network's
resolution, where :func:`bwcolor.image.propagate.propagate` spreads them (or a network with hint
inputs takes them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bwcolor import lab

#: Side files of a photo NAME.EXT: NAME.hints.json (points) and NAME.hints.png (strokes).
JSON_SUFFIX = ".hints.json"
PNG_SUFFIX = ".hints.png"
#: A points file larger than this is refused unread (a hint file is a few kilobytes).
MAX_JSON_BYTES = 4 << 20
MAX_POINTS = 10_000
POINT_KEYS = {"x", "y", "color", "radius"}
HEX = re.compile(r"#[0-9a-fA-F]{6}")


class HintError(ValueError):
    """A hint file or hint value that cannot be used; the message names the file and the cause."""


def is_hint_file(path: str | Path) -> bool:
    """Whether ``path`` is named as a photo's hint file (never taken as a photo itself)."""
    name = Path(path).name.lower()
    return name.endswith(JSON_SUFFIX) or name.endswith(PNG_SUFFIX)


def is_hint_name(path: str | Path) -> bool:
    """Whether ``path`` has a hint file's extension (.json points or .png strokes), whatever its
    name (``--hints`` takes any such file)."""
    return Path(path).suffix.lower() in (".json", ".png")


def hint_files_for(photo: str | Path) -> list[Path]:
    """The hint files beside ``photo`` that exist: NAME.hints.json, then NAME.hints.png."""
    photo = Path(photo)
    found = [photo.with_name(photo.stem + s) for s in (JSON_SUFFIX, PNG_SUFFIX)]
    return [p for p in found if p.is_file()]


def photo_stem_of(hint_file: Path) -> str:
    """The stem of the photo a hint file belongs to (``family`` for ``family.hints.json``)."""
    return hint_file.name[: -len(JSON_SUFFIX if hint_file.name.lower().endswith(JSON_SUFFIX) else PNG_SUFFIX)]


def default_radius(width: int, height: int) -> float:
    """A point's radius when not given: half a percent of the photo's long side, at least 2
    pixels (6 pixels on a 1200-pixel photo; about one pixel at the network's resolution)."""
    return max(2.0, 0.005 * max(width, height))


def colour_hex(colour) -> str:
    """``#rrggbb`` of a colour given as such or as (r, g, b) levels (checked by :func:`colour_ab`)."""
    return (
        colour.lower() if isinstance(colour, str) else "#" + "".join(f"{round(float(c)):02x}" for c in colour)
    )


def colour_ab(colour) -> tuple[float, float]:
    """CIE a, b of an sRGB colour given as ``#rrggbb`` or as (r, g, b) levels 0-255."""
    if isinstance(colour, str):
        if not HEX.fullmatch(colour):
            raise HintError(f"colour {colour!r} is not #rrggbb")
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    else:
        try:
            rgb = [float(c) for c in colour]
        except (TypeError, ValueError):
            raise HintError(f"colour {colour!r} is neither #rrggbb nor (r, g, b)") from None
        if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
            raise HintError(f"colour {colour!r} is not three levels between 0 and 255")
    lab_px = lab.rgb_to_lab(np.asarray(rgb, np.float32).reshape(1, 1, 3) / 255)[0, 0]
    return float(lab_px[1]), float(lab_px[2])


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    ab: tuple[float, float]
    radius: float
    color: str = ""  # as given, #rrggbb


@dataclass
class Hints:
    """A photo's hints, in the pixels of the photo as displayed upright."""

    width: int
    height: int
    points: list[Point] = field(default_factory=list)
    strokes: np.ndarray | None = None  # (H, W, 4) uint8 RGBA: opaque where the colour is known
    files: list[str] = field(default_factory=list)  # where they were read from

    def __bool__(self) -> bool:
        return bool(self.points) or (self.strokes is not None and bool(self.strokes[..., 3].any()))

    def raster(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """The hints at a resolution of (h, w): their ab (h, w, 2) and how much of each pixel
        they cover (h, w) in [0, 1]. Points are discs; the pixel a point falls in is always
        covered, however small its radius."""
        ab = np.zeros((h, w, 2), np.float32)
        weight = np.zeros((h, w), np.float32)
        if self.strokes is not None:
            ab, weight = _strokes_raster(self.strokes, h, w)
        sy, sx = h / self.height, w / self.width
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        for p in self.points:
            cy, cx = (p.y + 0.5) * sy - 0.5, (p.x + 0.5) * sx - 0.5
            r = p.radius * min(sx, sy)
            cover = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0.0, 1.0)
            cover[min(h - 1, int(p.y * sy)), min(w - 1, int(p.x * sx))] = 1.0
            take = cover >= weight
            ab[take & (cover > 0)] = p.ab
            weight = np.maximum(weight, cover)
        return ab, weight


def _strokes_raster(rgba: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Painted strokes shrunk to (h, w): the mean colour under each pixel's painted part, and the
    share of it painted."""
    alpha = rgba[..., 3].astype(np.uint16)
    painted = rgba[..., :3].astype(np.uint16) * alpha[..., None]  # premultiplied, at most 65025
    cover = cv2.resize(rgba[..., 3], (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    mean = cv2.resize(painted, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 65025
    rgb = mean / np.maximum(cover, 1e-6)[..., None]
    ab = lab.rgb_to_lab(np.clip(rgb, 0.0, 1.0))[..., 1:].copy()
    ab[cover <= 0] = 0.0
    return ab, cover


def read_hints(paths: list[Path], width: int, height: int) -> Hints:
    """The hints in ``paths`` (points JSON and/or strokes PNG) for a photo of width x height;
    :class:`HintError` naming the file and the cause if one cannot be used."""
    hints = Hints(width, height, files=[str(p) for p in paths])
    for path in paths:
        if path.suffix.lower() == ".png":
            hints.strokes = _read_strokes(path, width, height)
        else:
            hints.points = _read_points(path, width, height)
    return hints


def _read_points(path: Path, width: int, height: int) -> list[Point]:
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise HintError(f"{path}: {size:,} bytes, more than a hint file's {MAX_JSON_BYTES:,}")
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise HintError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise HintError(f"{path}: not JSON ({exc})") from None
    try:
        return points_from(point_items(data), width, height)
    except HintError as exc:
        raise HintError(f"{path}: {exc}") from None


def point_items(data) -> list:
    """(x, y, colour, radius) of each point of a points file's content (``{"points": [...]}``),
    its keys checked; the values are checked by :func:`points_from`."""
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise HintError('not a hints file: expected {"points": [{"x": .., "y": .., "color": "#rrggbb"}, ..]}')
    extra = set(data) - {"points"}
    if extra:
        raise HintError(f'unknown key {sorted(extra)[0]!r} (a hints file has only "points")')
    if len(data["points"]) > MAX_POINTS:
        raise HintError(f"{len(data['points']):,} points, more than {MAX_POINTS:,}")
    points = []
    for i, p in enumerate(data["points"]):
        if not isinstance(p, dict):
            raise HintError(f"point {i + 1} is not an object with x, y and color")
        unknown = set(p) - POINT_KEYS
        missing = {"x", "y", "color"} - set(p)
        if unknown or missing:
            what = f"unknown key {sorted(unknown)[0]!r}" if unknown else f"no {sorted(missing)[0]!r}"
            raise HintError(f"point {i + 1}: {what} (a point has x, y, color and optionally radius)")
        points.append((p["x"], p["y"], p["color"], p.get("radius")))
    return points


def points_from(items, width: int, height: int) -> list[Point]:
    """Points from (x, y, colour[, radius]) items, checked against a width x height photo."""
    points = []
    for i, item in enumerate(items):
        try:
            x, y, colour, *rest = item
        except (TypeError, ValueError):
            raise HintError(f"point {i + 1} is not (x, y, colour[, radius])") from None
        radius = rest[0] if rest else None
        for name, value in (("x", x), ("y", y)) + ((("radius", radius),) if radius is not None else ()):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise HintError(f"point {i + 1}: {name} {value!r} is not a number")
        if not (0 <= x < width and 0 <= y < height):
            raise HintError(f"point {i + 1} at ({x:g}, {y:g}) is outside the {width}x{height} photo")
        if radius is not None and radius <= 0:
            raise HintError(f"point {i + 1}: radius {radius:g} is not positive")
        try:
            ab = colour_ab(colour)
        except HintError as exc:
            raise HintError(f"point {i + 1}: {exc}") from None
        radius = float(radius or default_radius(width, height))
        points.append(Point(float(x), float(y), ab, radius, colour_hex(colour)))
    return points


def _read_strokes(path: Path, width: int, height: int) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HintError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return strokes_from_png(data, width, height)
    except HintError as exc:
        raise HintError(f"{path}: {exc}") from None


def strokes_from_png(data: bytes, width: int, height: int) -> np.ndarray:
    """Strokes from a PNG's bytes, checked against a width x height photo (RGBA uint8)."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None or not data.startswith(b"\x89PNG"):
        raise HintError("not a readable PNG")
    rgba = image[..., [2, 1, 0, 3]] if image.ndim == 3 and image.shape[2] == 4 else image
    return strokes_from(rgba, width, height)


def strokes_from(rgba: np.ndarray, width: int, height: int) -> np.ndarray:
    """An RGBA strokes picture (uint8 or uint16) checked against a width x height photo, as uint8."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise HintError("strokes need transparency (RGBA): paint them on a transparent layer")
    if rgba.shape[:2] != (height, width):
        raise HintError(f"strokes are {rgba.shape[1]}x{rgba.shape[0]}, the photo {width}x{height}")
    if rgba.dtype == np.uint16:
        rgba = (rgba.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    elif rgba.dtype != np.uint8:
        raise HintError(f"strokes of type {rgba.dtype}: give 8- or 16-bit levels")
    return rgba


def random_points(truth: np.ndarray, count: int, rng: np.random.Generator) -> Hints:
    """``count`` points at random places of a colour photo (H, W, 3 levels), each carrying the
    mean colour of the square patch of :func:`default_radius` around it, as a person would give
    it (``#rrggbb``): the hints ``bwcolor evaluate --hint-points`` measures with. The first
    points drawn are the same whatever ``count``."""
    height, width = truth.shape[:2]
    radius = default_radius(width, height)
    r = int(round(radius))
    top = 255.0 if truth.dtype == np.uint8 else 65535.0 if truth.dtype == np.uint16 else 1.0
    points = []
    for _ in range(count):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        patch = truth[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3)
        rgb = np.clip(np.round(patch.astype(np.float64).mean(axis=0) / top * 255), 0, 255)
        points.append(Point(float(x), float(y), colour_ab(rgb), radius, colour_hex(rgb)))
    return Hints(width, height, points=points)


def as_hints(value, width: int, height: int) -> Hints | None:
    """The Python API's ``hints=``: None, a :class:`Hints`, a list of (x, y, colour[, radius])
    with colour ``#rrggbb`` or (r, g, b), or an RGBA strokes array the size of the photo."""
    if value is None:
        return None
    if isinstance(value, Hints):
        if (value.width, value.height) != (width, height):
            raise HintError(f"hints for a {value.width}x{value.height} photo, not {width}x{height}")
        return value
    if isinstance(value, np.ndarray):
        return Hints(width, height, strokes=strokes_from(value, width, height))
    return Hints(width, height, points=points_from(list(value), width, height))
