"""Colours that hold still: carrying a film's colour along its motion from frame to frame.

Colorized one by one, a film's frames flicker: the network sees each frame alone, and a coat
that is brown in one frame may be blue in the next. :class:`Stabiliser` follows the motion
instead. For each new frame it estimates the dense optical flow back to the previous frame
(OpenCV's DIS, on the lightness at the network's resolution), warps the previous frame's
*stabilised* colour along it, and blends that with the network's new prediction:

    ab_t = w * warp(ab_{t-1}) + (1 - w) * prediction_t

``w`` is ``carry`` where the motion is reliable and falls to 0 where it is not: where the
warped previous lightness does not match the new one (occlusions, new objects, flow errors)
and where the flow points outside the previous frame (what enters the picture). Along each
motion trajectory the colour is thus an exponential average of the network's predictions (time
constant ``1 / (1 - carry)`` frames), which removes the flicker without smearing a moving object
(its colour moves with it). A scene cut, detected from the lightness (:func:`is_cut`), starts
afresh: no colour is carried from one shot into the next.

The metrics of the same motion model live here too: :func:`flicker` (the mean ab change between
a frame and the previous frame's colour warped to it) and :func:`warp`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

#: The share of the previous frame's colour kept where the motion is reliable.
CARRY = 0.9
#: Lightness mismatch (L units) at which a pixel's carried colour weighs e^-1 of ``carry``.
MATCH_SIGMA = 10.0
#: A cut: fewer pixels than this share match the previous frame after motion compensation ...
CUT_MATCHED = 0.45
#: ... a pixel matching when its warped lightness is within this many L units.
CUT_MATCH_L = 8.0
#: ... or the lightness histograms differ by more than this (total variation distance, 0-1).
CUT_HISTOGRAM = 0.5


def flow_between(lum: np.ndarray, previous: np.ndarray, dis=None) -> np.ndarray:
    """Dense optical flow (h, w, 2) from ``lum`` back to ``previous`` (both L in [0, 100]):
    ``lum[y, x]`` shows what ``previous`` shows at ``(x, y) + flow[y, x]``."""
    dis = dis or new_flow_estimator()
    return dis.calc(_as_u8(lum), _as_u8(previous), None)


def new_flow_estimator():
    """OpenCV's DIS optical flow, at its medium preset (a few ms at 256x144 on one core)."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def _as_u8(lum: np.ndarray) -> np.ndarray:
    return np.clip(lum * 2.55 + 0.5, 0, 255).astype(np.uint8)


def warp(values: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (h, w) or (h, w, C) of the previous frame, moved to the current one by ``flow``
    (:func:`flow_between`); and where it was defined: (h, w) bool, False where the flow points
    outside the previous frame (what came into view)."""
    h, w = flow.shape[:2]
    grid_x, grid_y = _grid(h, w)
    map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    moved = cv2.remap(values, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return moved, inside


@lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y) of an h x w frame, made once per frame size (read-only)."""
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    grid_x.flags.writeable = grid_y.flags.writeable = False
    return grid_x, grid_y


def histogram_distance(lum: np.ndarray, previous: np.ndarray, bins: int = 32) -> float:
    """Total variation distance (0: same, 1: disjoint) of two frames' lightness histograms."""
    ha = np.histogram(lum, bins, (0, 100))[0] / max(1, lum.size)
    hb = np.histogram(previous, bins, (0, 100))[0] / max(1, previous.size)
    return float(0.5 * np.abs(ha - hb).sum())


def is_cut(lum: np.ndarray, warped_previous: np.ndarray, inside: np.ndarray, previous: np.ndarray) -> bool:
    """Whether ``lum`` starts a new shot: after motion compensation too few pixels match the
    previous frame, or the two frames' lightness histograms are far apart."""
    matched = (np.abs(lum - warped_previous) < CUT_MATCH_L) & inside
    return bool(matched.mean() < CUT_MATCHED or histogram_distance(lum, previous) > CUT_HISTOGRAM)


@dataclass
class Step:
    """One frame's stabilised colour, and what the stabiliser saw."""

    ab: np.ndarray  # (h, w, 2) Lab units
    cut: bool  # the frame starts a shot (or the film): the prediction is taken as it is
    carried: float  # mean weight of the previous frame's colour (0 at a cut)


class Stabiliser:
    """Blends each frame's predicted colour with the previous frame's, carried along the motion.

    Feed frames in order with :meth:`step`; frames must share one size (a film's do).
    ``carry=0`` turns it off (each frame's prediction as it is).
    """

    def __init__(self, carry: float = CARRY, sigma: float = MATCH_SIGMA):
        if not 0.0 <= carry < 1.0:
            raise ValueError(f"carry must be in [0, 1), not {carry}")
        self.carry, self.sigma = carry, sigma
        self.dis = new_flow_estimator()
        self.previous: tuple[np.ndarray, np.ndarray] | None = None  # (L, stabilised ab)

    def reset(self) -> None:
        self.previous = None

    def step(self, lum: np.ndarray, predicted_ab: np.ndarray) -> Step:
        """``lum`` (h, w) L in [0, 100] and the network's ``predicted_ab`` (h, w, 2) for the next
        frame -> its stabilised colour."""
        lum = np.ascontiguousarray(lum, np.float32)
        predicted_ab = np.ascontiguousarray(predicted_ab, np.float32)
        if self.previous is None or self.carry == 0.0 or self.previous[0].shape != lum.shape:
            self.previous = (lum, predicted_ab)
            return Step(predicted_ab, True, 0.0)
        prev_lum, prev_ab = self.previous
        flow = flow_between(lum, prev_lum, self.dis)
        moved, inside = warp(np.dstack([prev_lum, prev_ab]), flow)  # L and ab in one pass
        warped_lum, warped_ab = moved[..., 0], moved[..., 1:]
        if is_cut(lum, warped_lum, inside, prev_lum):
            self.previous = (lum, predicted_ab)
            return Step(predicted_ab, True, 0.0)
        weight = self.carry * np.exp(-np.square((lum - warped_lum) / self.sigma)) * inside
        ab = weight[..., None] * warped_ab + (1.0 - weight[..., None]) * predicted_ab
        self.previous = (lum, ab)
        return Step(ab, False, float(weight.mean()))


def reliable_flow(
    lum: np.ndarray, previous: np.ndarray, tolerance: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """The flow from ``lum`` back to ``previous`` (:func:`flow_between`) and where it can be
    trusted: (h, w) bool, True where the flow back and the flow forward agree within
    ``tolerance`` pixels (not occluded, not a flow error). For measuring flicker on films whose
    true motion is unknown."""
    dis = new_flow_estimator()
    back = flow_between(lum, previous, dis)
    forward = flow_between(previous, lum, dis)
    forward_at, inside = warp(forward, back)  # where each pixel went, then came back
    return back, inside & (np.linalg.norm(back + forward_at, axis=-1) < tolerance)


def flicker(
    ab: np.ndarray, previous_ab: np.ndarray, flow: np.ndarray, valid: np.ndarray | None = None
) -> float:
    """Mean ab change (Lab units) between a frame's colour and the previous frame's colour warped
    to it by ``flow`` (:func:`flow_between`'s convention), over the pixels that stay in view
    (and are ``valid``, e.g. not occluded). 0 for colours that follow the motion exactly."""
    moved, inside = warp(np.ascontiguousarray(previous_ab, np.float32), flow.astype(np.float32))
    keep = inside if valid is None else inside & valid
    if not keep.any():
        return float("nan")
    return float(np.linalg.norm(ab - moved, axis=-1)[keep].mean())
