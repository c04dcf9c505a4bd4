"""Builds docs/before_after.jpg for the README: sample photos beside their colorized versions.

Run after `make demo`:  .venv/bin/python docs/make_before_after.py
"""

from pathlib import Path

import cv2
import numpy as np

from bwcolor.io import read_image

SAMPLES = ["1899NycBlizzard.jpg", "migrant_mother.jpg", "ZebraCarriageLondon1900.jpg", "CorkKids1910.jpg"]
HEIGHT = 300


def tile(path: Path) -> np.ndarray:
    px = read_image(path).pixels
    rgb = np.repeat(px[..., None], 3, -1) if px.ndim == 2 else px
    w = round(rgb.shape[1] * HEIGHT / rgb.shape[0])
    return cv2.resize(rgb, (w, HEIGHT), interpolation=cv2.INTER_AREA)


def main() -> None:
    docs = Path(__file__).parent
    rows = []
    for name in SAMPLES:
        pair = [tile(docs / "samples" / name), tile(docs.parent / "outputs" / "samples" / name)]
        rows.append(np.hstack([pair[0], np.full((HEIGHT, 6, 3), 255, np.uint8), pair[1]]))
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    cv2.imwrite(str(docs / "before_after.jpg"), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    main()
