"""CIE Lab conversions, the networks' normalisation, and recombination with full-resolution L.

All functions are pure and work on float32 arrays. Conventions (OpenCV's, identical to
scikit-image's up to about 0.5 Lab units):

* RGB is sRGB in [0, 1], shape (H, W, 3).
* L is in [0, 100]; a and b lie within about [-110, 100] for sRGB colours.

Network normalisation (stored in every checkpoint, see :class:`Normalisation`):
``L_net = L / 50 - 1`` (so [-1, 1]) and ``ab_net = ab / 110`` (tanh output range [-1, 1]
covers the whole sRGB gamut).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import cv2
import numpy as np

#: Every network input side is a multiple of this (the fusion encoder downsamples by 8).
SIZE_MULTIPLE = 8


@dataclass(frozen=True)
class Normalisation:
    """How L and ab are scaled for the network: ``L/l_scale - l_offset`` and ``ab/ab_scale``."""

    l_scale: float = 50.0
    l_offset: float = 1.0
    ab_scale: float = 110.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Normalisation:
        """From a checkpoint's header; ValueError unless every field is there and sane."""
        missing = [k for k in ("l_scale", "l_offset", "ab_scale") if k not in d]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        values = {}
        for key in ("l_scale", "l_offset", "ab_scale"):
            value = d[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise ValueError(f"{key}={value!r} is not a finite number")
            values[key] = float(value)
        if values["l_scale"] <= 0 or values["ab_scale"] <= 0:
            raise ValueError("l_scale and ab_scale must be positive")
        return cls(**values)

    def encode_l(self, lum: np.ndarray) -> np.ndarray:
        return (lum / self.l_scale - self.l_offset).astype(np.float32)

    def decode_l(self, l_net: np.ndarray) -> np.ndarray:
        return ((l_net + self.l_offset) * self.l_scale).astype(np.float32)

    def encode_ab(self, ab: np.ndarray) -> np.ndarray:
        return (ab / self.ab_scale).astype(np.float32)

    def decode_ab(self, ab_net: np.ndarray) -> np.ndarray:
        return (ab_net * self.ab_scale).astype(np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB float in [0, 1] (H, W, 3) -> Lab float32 (H, W, 3)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Lab float (H, W, 3) -> sRGB float32 in [0, 1] (out-of-gamut values are clipped)."""
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def gray_to_lightness(gray: np.ndarray) -> np.ndarray:
    """Gray level in [0, 1] (H, W) -> CIE L in [0, 100], exactly as ``rgb_to_lab`` of R=G=B."""
    gray = np.asarray(gray, dtype=np.float32)
    linear = np.where(gray <= 0.04045, gray / 12.92, ((gray + 0.055) / 1.055) ** 2.4)
    return lightness_from_luminance(linear)


def lightness_from_luminance(y: np.ndarray) -> np.ndarray:
    """Relative luminance Y in [0, 1] -> CIE L* in [0, 100]."""
    eps = 216 / 24389
    kappa = 24389 / 27
    y = np.asarray(y, dtype=np.float32)
    lum = np.where(y > eps, 116.0 * np.cbrt(y) - 16.0, kappa * y)
    return lum.astype(np.float32)


#: The largest render size: beyond it a forward pass needs tens of GB and the colour gains nothing
#: (the prediction is upsampled and merged with the full-resolution L anyway).
MAX_RENDER_SIZE = 2048
#: The most a predicted chroma may be scaled by (``saturation``).
MAX_SATURATION = 4.0


def render_shape(height: int, width: int, render_size: int) -> tuple[int, int]:
    """Network input (height, width): long side ``render_size``, aspect kept, sides multiples of 8.

    The short side is rounded to the nearest multiple of 8 (at least 8), so a 37x1000 image at
    render size 256 becomes 8x256: never a square stretch.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if render_size < SIZE_MULTIPLE or render_size % SIZE_MULTIPLE:
        raise ValueError(f"render size must be a positive multiple of {SIZE_MULTIPLE}")
    scale = render_size / max(height, width)

    def side(n: int) -> int:
        return max(SIZE_MULTIPLE, int(round(n * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE)

    return side(height), side(width)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize with area averaging when shrinking and bilinear interpolation when enlarging."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)


def upsample_ab(ab: np.ndarray, height: int, width: int, rows: slice = slice(None)) -> np.ndarray:
    """Bilinear upsampling of predicted ab (h, w, 2) to (height, width, 2), or those ``rows`` of it.

    The same values as ``cv2.resize`` with ``INTER_LINEAR`` (pixel centres aligned, edges
    clamped), computable for a band of rows at a time, so that a huge scan never needs its whole
    full-resolution ab in memory (see :func:`heighten_ab` and :func:`ab_rows`).
    """
    return ab_rows(heighten_ab(ab, height), width, rows)


def heighten_ab(ab: np.ndarray, height: int) -> np.ndarray:
    """The separable filter's first pass: ab (h, w, 2) resized to the full height (height, w, 2),
    still at the network's width (small: a 12000-row scan at render size 256 gives 24 MB)."""
    return cv2.resize(ab, (ab.shape[1], height), interpolation=cv2.INTER_LINEAR)


def ab_rows(tall: np.ndarray, width: int, rows: slice = slice(None)) -> np.ndarray:
    """The second pass, for ``rows`` of the full height only: (rows, width, 2). Each row is
    widened on its own (a resize to the same number of rows leaves rows as they are)."""
    band = tall[rows]
    return cv2.resize(band, (width, band.shape[0]), interpolation=cv2.INTER_LINEAR)


def guided_coefficients(
    guide: np.ndarray, ab: np.ndarray, radius: int = 2, eps: float = 25.0
) -> tuple[np.ndarray, np.ndarray]:
    """The fast guided filter's coefficients (He and Sun 2015) at the network's resolution.

    Within each window of ``radius``, ab is modelled as ``A * L + B``: where lightness and colour
    change together (an object's edge), the colour follows the lightness; where lightness
    varies by less than ``sqrt(eps)`` (Lab units), A is near 0 and the colour stays as predicted.
    ``guide``: L (h, w) in Lab units at the network's resolution; ``ab``: (h, w, 2). Returns A and
    B (h, w, 2), to be upsampled like ab and applied to the full-resolution L: the colour then
    follows edges that only the full resolution shows.
    """
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)

    guide = np.asarray(guide, np.float32)
    ab = np.asarray(ab, np.float32)
    mean_l = box(guide)
    var_l = box(guide * guide) - mean_l * mean_l
    mean_ab = box(ab)
    cov = box(ab * guide[..., None]) - mean_ab * mean_l[..., None]
    a = cov / (var_l[..., None] + np.float32(eps))
    b = mean_ab - a * mean_l[..., None]
    return box(a), box(b)


_JUST_ABOVE_0 = (float(np.nextafter(np.float32(0), np.float32(1))),) * 3
_JUST_BELOW_1 = (float(np.nextafter(np.float32(1), np.float32(0))),) * 3


def merge_lab(lum: np.ndarray, ab: np.ndarray, gamut_steps: int = 8) -> np.ndarray:
    """Recombine full-resolution L (H, W) with ab (H, W, 2) into sRGB float32 in [0, 1].

    Colours outside the sRGB gamut are brought inside by shrinking their chroma (a, b towards 0)
    with a short bisection, never by clipping RGB, so the output keeps the input's lightness.
    """
    lab = cv2.merge([np.asarray(lum, np.float32), np.asarray(ab, np.float32)])
    rgb = lab_to_rgb(lab)
    # Only pixels with a channel at 0 or 1 can have been clipped: check those alone.
    flat_rgb, flat_lab = rgb.reshape(-1, 3), lab.reshape(-1, 3)
    inside = cv2.inRange(rgb, _JUST_ABOVE_0, _JUST_BELOW_1)  # 255 where all channels in (0, 1)
    clipped = np.flatnonzero(inside.ravel() == 0)
    if clipped.size == 0:
        return rgb
    out = clipped[_out_of_gamut(flat_rgb[clipped][None], flat_lab[clipped][None])[0]]
    if out.size == 0:
        return rgb
    l_out = flat_lab[out][:, :1]
    ab_out = flat_lab[out][:, 1:]
    lo = np.zeros(len(l_out), np.float32)  # chroma factor known to be in gamut (gray)
    hi = np.ones(len(l_out), np.float32)  # factor known to be out of gamut
    for _ in range(gamut_steps):
        mid = (lo + hi) / 2
        trial = np.concatenate([l_out, ab_out * mid[:, None]], axis=1)[None]
        bad = _out_of_gamut(lab_to_rgb(trial), trial)[0]
        hi = np.where(bad, mid, hi)
        lo = np.where(bad, lo, mid)
    fixed = np.concatenate([l_out, ab_out * lo[:, None]], axis=1)[None]
    flat_rgb[out] = lab_to_rgb(fixed)[0]
    return rgb


def _out_of_gamut(rgb_clipped: np.ndarray, lab: np.ndarray, tol: float = 0.5) -> np.ndarray:
    """Pixels whose clipped RGB no longer maps back to their Lab (within ``tol`` L units)."""
    back = rgb_to_lab(rgb_clipped)
    return np.abs(back[..., 0] - lab[..., 0]) > tol


@lru_cache(maxsize=2)
def _gray_lut(levels: int) -> np.ndarray:
    return gray_to_lightness(np.arange(levels, dtype=np.float32) / (levels - 1))


def lightness_of_gray(pixels: np.ndarray) -> np.ndarray:
    """CIE L (H, W) of gray pixels: uint8/uint16 through an exact lookup table, float directly."""
    if pixels.dtype == np.uint8:
        return cv2.LUT(pixels, _gray_lut(256))  # 4-5x faster than numpy's indexing
    if pixels.dtype == np.uint16:
        return _gray_lut(65536)[pixels]
    return gray_to_lightness(pixels)


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """A copy whose long side is at most ``max_side`` (area averaging); small images unchanged."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )


def mean_chroma(rgb: np.ndarray, max_side: int = 256) -> float:
    """Mean Lab chroma sqrt(a^2 + b^2) of an RGB image in [0, 1], on a copy at most ``max_side``."""
    lab = rgb_to_lab(shrink(rgb, max_side))
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def lab_pair(rgb_u8: np.ndarray, norm: Normalisation) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB crop -> normalised L (h, w) and ab (2, h, w), as a network trains on them."""
    lab_img = rgb_to_lab(rgb_u8.astype(np.float32) * (1 / 255))
    return norm.encode_l(lab_img[..., 0]), norm.encode_ab(lab_img[..., 1:]).transpose(2, 0, 1)
