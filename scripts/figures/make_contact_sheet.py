"""A contact sheet of historic photos colorized by several models, side by side, for docs/.

    python scripts/figures/make_contact_sheet.py OUT.jpg PHOTOS LABEL=MODEL [LABEL=MODEL ...] [--per-row 2]

Each photo (files of the folder PHOTOS, sorted) becomes one cell: its gray input, then each
model's colorization (as ``bwcolor colorize`` makes it, at full resolution, shrunk for the sheet),
labelled; ``--per-row`` cells side by side. MODEL is a model name or a checkpoint; LABEL=MODEL
may also be ``LABEL=MODEL@T`` to decode a classes-head model at annealed-mean temperature T, and
end in ``*S`` to scale the chroma by S (``--saturation``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from bwcolor.files.decode import read_image
from bwcolor.files.inputs import expand_inputs
from bwcolor.files.pixels import Picture
from bwcolor.image.colorize import colorize_rgb
from bwcolor.models.checkpoint import load_model

HEIGHT = 220  # pixels of each picture on the sheet, unless --height says otherwise


def shrink(rgb: np.ndarray, height: int = HEIGHT) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (round(w * height / h), height), interpolation=cv2.INTER_AREA)


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = np.vstack([np.full((18, img.shape[1], 3), 255, np.uint8), img])
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def cell(path: Path, models: dict, height: int = HEIGHT) -> np.ndarray:
    picture = read_image(path)
    gray = picture.pixels if picture.pixels.ndim == 2 else cv2.cvtColor(picture.pixels, cv2.COLOR_RGB2GRAY)
    if gray.dtype != np.uint8:
        gray = (gray.astype(np.float32) / 257).astype(np.uint8)
    panels = [label(shrink(np.dstack([gray] * 3), height), path.stem[:34])]
    for name, model in models.items():
        rgb = colorize_rgb(
            model, Picture(gray), saturation=getattr(model, "sheet_saturation", 1.0), dtype=np.uint8
        )
        panels.append(label(shrink(rgb, height), name))
    return np.hstack([np.pad(p, ((0, 0), (0, 4), (0, 0)), constant_values=255) for p in panels])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("photos")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--per-row", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--height", type=int, default=HEIGHT, help="pixels of each picture on the sheet")
    args = ap.parse_args()
    models = {}
    for spec in args.models:
        name, _, ref = spec.partition("=")
        ref, _, saturation = ref.partition("*")
        ref, _, temperature = ref.partition("@")
        models[name] = load_model(ref)
        if temperature:
            models[name].head.temperature = float(temperature)
        models[name].sheet_saturation = float(saturation or 1.0)
    sources, _ = expand_inputs([args.photos])
    cells = [cell(s.path, models, args.height) for s in sources[: args.limit]]
    width = max(c.shape[1] for c in cells)
    cells = [np.pad(c, ((0, 6), (0, width - c.shape[1]), (0, 0)), constant_values=255) for c in cells]
    rows = [np.hstack(cells[i : i + args.per_row]) for i in range(0, len(cells), args.per_row)]
    full = max(r.shape[1] for r in rows)
    sheet = np.vstack(
        [np.pad(r, ((0, 0), (0, full - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    )
    cv2.imwrite(str(args.out), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"{args.out}: {len(cells)} photos, {sheet.shape[1]}x{sheet.shape[0]}")


if __name__ == "__main__":
    main()
