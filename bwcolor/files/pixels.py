"""A decoded picture, and its pixels as levels: the types between decoding and encoding."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from bwcolor.files.metadata import Metadata


@dataclass
class Picture:
    """A decoded image, upright (EXIF orientation applied).

    ``pixels`` is (H, W) gray or (H, W, 3) RGB, uint8 or uint16 (float32 in [0, 1] for float
    TIFFs); ``alpha`` is (H, W) of the same dtype, or None.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    source_format: str = ""
    notes: list[str] = field(default_factory=list)
    metadata: Metadata = field(default_factory=Metadata)

    @property
    def bit_depth(self) -> int:
        return 8 if self.pixels.dtype == np.uint8 else 16

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]


def to_float(pixels: np.ndarray) -> np.ndarray:
    """Integer or float pixels -> float32 in [0, 1]."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) * (1 / 255)
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) * (1 / 65535)
    return np.clip(pixels.astype(np.float32), 0.0, 1.0)


def from_float(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float in [0, 1] -> uint8 or uint16, rounded (values outside [0, 1] saturate)."""
    if (
        np.dtype(dtype) == np.uint8
        and values.dtype == np.float32
        and values.ndim == 3
        and values.shape[2] <= 4
    ):
        # 25x faster than numpy; negatives zeroed first (convertScaleAbs takes absolute values)
        positive = cv2.threshold(values, 0.0, 0.0, cv2.THRESH_TOZERO)[1]
        return cv2.convertScaleAbs(positive, alpha=255.0)
    top = 255 if np.dtype(dtype) == np.uint8 else 65535
    return (np.clip(values, 0.0, 1.0) * top + 0.5).astype(dtype)
