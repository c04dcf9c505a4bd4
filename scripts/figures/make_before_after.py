"""Builds docs/before_after.jpg for the README: sample photos, then colorized by the default
shipped model (effnet_unet) and by the paper's fusion network.

    .venv/bin/python scripts/figures/make_before_after.py
"""

from pathlib import Path

import cv2
import numpy as np

from bwcolor import colorize_image, load_model
from bwcolor.files.decode import read_image

SAMPLES = [
    "1899NycBlizzard.jpg",
    "ZebraCarriageLondon1900.jpg",
    "CorkKids1910.jpg",
    "AthleticClubParis1913.jpg",
]
HEIGHT = 260


def fit(rgb: np.ndarray) -> np.ndarray:
    w = round(rgb.shape[1] * HEIGHT / rgb.shape[0])
    return cv2.resize(rgb, (w, HEIGHT), interpolation=cv2.INTER_AREA)


def main() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"  # this script lives in scripts/figures/
    default, fusion = load_model("effnet_unet"), load_model("fusion")
    rows = []
    for name in SAMPLES:
        gray = read_image(docs / "samples" / name).pixels
        gray = gray if gray.ndim == 2 else cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
        tiles = [
            np.repeat(gray[..., None], 3, -1),
            colorize_image(default, gray),
            colorize_image(fusion, gray),
        ]
        gap = np.full((HEIGHT, 6, 3), 255, np.uint8)
        rows.append(np.hstack([fit(tiles[0]), gap, fit(tiles[1]), gap, fit(tiles[2])]))
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack(
        [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    )
    cv2.imwrite(str(docs / "before_after.jpg"), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    main()
