"""The README's colour-hints figure: a photo colorized automatically and with its hint file.

    python scripts/figures/make_hints_example.py docs/samples/1909Chicago.jpg docs/hints_example.jpg

Left: the automatic colour; right: with the points of PHOTO's NAME.hints.json, each marked by a
ring of its colour. Writes a JPEG (quality 90).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from bwcolor import load_model
from bwcolor.files.decode import read_image
from bwcolor.files.hints import hint_files_for, read_hints
from bwcolor.image.colorize import colorize_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photo", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", default="effnet_unet")
    args = ap.parse_args()
    model = load_model(args.model)
    gray = read_image(args.photo).pixels
    hints = read_hints(hint_files_for(args.photo), gray.shape[1], gray.shape[0])
    auto = colorize_image(model, gray)
    hinted = np.ascontiguousarray(colorize_image(model, gray, hints=hints))
    ring = max(6, gray.shape[1] // 60)
    for p in hints.points:  # a white-and-black ring round each hint, filled with nothing
        centre = (int(p.x), int(p.y))
        cv2.circle(hinted, centre, ring + 2, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.circle(hinted, centre, ring, (255, 255, 255), 2, cv2.LINE_AA)
    gap = np.full((gray.shape[0], 8, 3), 255, np.uint8)
    sheet = np.hstack([auto, gap, hinted])
    for text, x in (("automatic", 8), (f"{len(hints.points)} hints", auto.shape[1] + 16)):
        cv2.putText(sheet, text, (x, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4, cv2.LINE_AA)
        cv2.putText(sheet, text, (x, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.imwrite(str(args.out), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])


if __name__ == "__main__":
    main()
