"""A before/after picture for sharing (``bwcolor colorize --compare``): the black-and-white input
and its colorized output side by side, as ``NAME.compare.jpg`` beside the output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bwcolor import lab
from bwcolor.files.encode import write_image
from bwcolor.files.metadata import Metadata
from bwcolor.files.pixels import to_float

#: The side-by-side picture is at most this tall (a shared picture, not an archive copy).
COMPARE_HEIGHT = 1080
#: White between the two halves.
GAP = 8
SUFFIX = ".compare.jpg"


def compare_path(output: Path) -> Path:
    """Where the before/after picture of ``output`` goes."""
    return output.with_name(output.stem + SUFFIX)


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``before`` (gray or RGB) and ``after`` (RGB), of one size, side by side: uint8 RGB at
    most COMPARE_HEIGHT tall."""
    h, w = before.shape[:2]
    scale = min(1.0, COMPARE_HEIGHT / h)
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    halves = []
    for picture in (before, after):
        rgb = to_float(picture)
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[..., None], 3, axis=2)
        halves.append((lab.resize(rgb[..., :3], th, tw) * 255 + 0.5).astype(np.uint8))
    gap = np.full((th, GAP, 3), 255, np.uint8)
    return np.hstack([halves[0], gap, halves[1]])


def write_compare(output: Path, before: np.ndarray, after: np.ndarray, provenance: str | None) -> Path:
    """Write the before/after JPEG of ``output`` (tagged as bwcolor's, so never taken as an input)."""
    path = compare_path(output)
    write_image(path, side_by_side(before, after), None, "jpg", 90, Metadata(provenance=provenance))
    return path
