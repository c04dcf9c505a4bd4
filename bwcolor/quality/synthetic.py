"""Colour clips with known motion, made from photographs: the ground truth for measuring flicker.

A pan slides a window across a photo, a zoom narrows it about its centre, and a cut joins two
clips; each :class:`Clip` holds its colour frames and, for every frame after the first, the true
motion back to the previous frame in :func:`bwcolor.pipeline.temporal.flow_between`'s convention (None at
a cut). Used by the tests and by ``scripts/films/measure_video.py``; :func:`write_clip` saves one as a
video (optionally with a tone as its sound).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np


@dataclass
class Clip:
    frames: list[np.ndarray] = field(default_factory=list)  # (h, w, 3) uint8 RGB
    flows: list[np.ndarray | None] = field(default_factory=list)  # one per frame; None: no motion known

    def __add__(self, other: Clip) -> Clip:
        """This clip, then a cut to ``other``."""
        return Clip(self.frames + other.frames, self.flows + [None] + other.flows[1:])


def _view(photo: np.ndarray, centre: tuple[float, float], scale: float, size: tuple[int, int]) -> np.ndarray:
    """The frame of ``size`` (h, w) showing ``photo`` around ``centre`` (x, y), ``scale`` photo
    pixels per frame pixel."""
    h, w = size
    cx, cy = centre
    m = np.float32([[scale, 0, cx - scale * (w - 1) / 2], [0, scale, cy - scale * (h - 1) / 2]])
    return cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)  # fmt: skip


def pan(photo: np.ndarray, size: tuple[int, int], frames: int, step: float = 2.0) -> Clip:
    """A horizontal pan: the window moves ``step`` photo pixels right per frame (1:1 scale)."""
    h, w = size
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0] = step  # frame t shows at x what frame t-1 showed at x + step
    clip = Clip()
    for t in range(frames):
        clip.frames.append(_view(photo, ((w - 1) / 2 + t * step, (photo.shape[0] - 1) / 2), 1.0, size))
        clip.flows.append(None if t == 0 else flow)
    return clip


def zoom(photo: np.ndarray, size: tuple[int, int], frames: int, rate: float = 1.01) -> Clip:
    """A zoom into the photo's centre, ``rate`` times closer each frame."""
    h, w = size
    centre = ((photo.shape[1] - 1) / 2, (photo.shape[0] - 1) / 2)
    first = min(photo.shape[0] / h, photo.shape[1] / w)  # the whole photo's short side in view
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    clip = Clip()
    for t in range(frames):
        clip.frames.append(_view(photo, centre, first / rate**t, size))
        if t == 0:
            clip.flows.append(None)
            continue
        # frame pixel x shows photo point c + (x - mid) * k_t; frame t-1 shows it at
        # mid + (x - mid) * k_t / k_{t-1} = mid + (x - mid) / rate
        fx = ((w - 1) / 2 + (xs - (w - 1) / 2) / rate) - xs
        fy = ((h - 1) / 2 + (ys - (h - 1) / 2) / rate) - ys
        clip.flows.append(np.dstack([fx, fy]))
    return clip


def write_clip(
    path: Path, frames: list[np.ndarray], fps: int = 24, tone: bool = False, crf: int = 12
) -> Path:
    """Encode RGB ``frames`` as H.264 (or VP9 for .webm) at ``fps``; ``tone``: a 440 Hz AAC (Opus
    in WebM) sound track as long as the clip."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    webm = path.suffix.lower() == ".webm"
    with av.open(str(path), "w") as out:
        options = {"crf": str(crf), **({} if webm else {"preset": "veryfast"})}
        if path.suffix.lower() == ".avi":
            options["bf"] = "0"  # AVI keeps no timestamps: reordered frames would come back shuffled
        video = out.add_stream("libvpx-vp9" if webm else "libx264", rate=fps, options=options)
        video.width, video.height = frames[0].shape[1], frames[0].shape[0]
        video.pix_fmt = "yuv420p" if video.width % 2 == 0 and video.height % 2 == 0 else "yuv444p"
        audio = out.add_stream("libopus" if webm else "aac", rate=48000) if tone else None
        for frame in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        out.mux(video.encode(None))
        if audio is not None:
            _write_tone(out, audio, len(frames) / fps)
    return path


def _write_tone(out, audio, seconds: float) -> None:
    import av

    rate, chunk = 48000, 960
    total = int(rate * seconds)
    for start in range(0, total, chunk):
        t = (np.arange(start, min(total, start + chunk)) / rate).astype(np.float32)
        samples = (0.2 * np.sin(2 * np.pi * 440 * t))[None].astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))
