"""Strokes on the main objects of validation photos: CIEDE2000 before and after, and a sheet.

A person paints a few strokes of the colour they know on the main objects. Stood in for here,
from each photo's own colours: the truth's colours are clustered (k-means on a, b and L at 256
pixels), the largest colourful connected regions (at least 2% of the photo) are the main
objects, and each gets one horizontal stroke through its middle (40% of its width, 1% of the
photo's long side thick) of the region's mean colour under the stroke. The strokes are written as
RGBA (the NAME.hints.png format) and given to the model through the Python API, which reads them
as `bwcolor colorize` does.

    python scripts/colour/measure_strokes.py strokes.json --data ../shared/data/train --val-fraction 0.1 \\
        --photos 20 --sheet docs/hints_strokes.jpg
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from bwcolor import lab, load_model, metrics
from bwcolor.cli import _eval_paths
from bwcolor.errors import ImageError
from bwcolor.image.colorize import colorize_image
from bwcolor.quality.evaluate import ground_truth

MAX_STROKES = 4


def strokes_for(truth: np.ndarray, seed: int = 0) -> np.ndarray:
    """RGBA strokes (H, W, 4) on the main colourful regions of an RGB uint8 photo."""
    h, w = truth.shape[:2]
    scale = 256 / max(h, w)
    small = cv2.resize(
        truth, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    lab_small = lab.rgb_to_lab(small.astype(np.float32) / 255)
    feats = np.concatenate([lab_small[..., 1:], lab_small[..., :1] / 2], -1).reshape(-1, 3).astype(np.float32)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, _ = cv2.kmeans(feats, 6, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    labels = labels.reshape(small.shape[:2])
    regions = []
    for k in range(6):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((labels == k).astype(np.uint8), connectivity=4)
        for c in range(1, n):
            area = stats[c, cv2.CC_STAT_AREA]
            if area >= 0.02 * labels.size:
                mask = comp == c
                chroma = float(np.hypot(*lab_small[mask][:, 1:].T).mean())
                regions.append((area * chroma, mask))
    rgba = np.zeros((h, w, 4), np.uint8)
    thick = max(2, round(0.01 * max(h, w)))
    for _, mask in sorted(regions, key=lambda r: -r[0])[:MAX_STROKES]:
        inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        ys, xs = np.nonzero(inner if inner.any() else mask)
        row = int(np.median(ys))
        cols = np.sort(xs[ys == row])
        mid, half = cols[len(cols) // 2], max(1, int(0.2 * (cols[-1] - cols[0])))
        x0, x1 = (int(np.clip(c, cols[0], cols[-1]) / scale) for c in (mid - half, mid + half))
        y = int(row / scale)
        line = np.zeros((h, w), np.uint8)
        cv2.line(line, (x0, y), (x1, y), 255, thick)
        under = (line > 0) & (cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0)
        if under.any():
            rgba[under, :3] = truth[under].mean(axis=0).round().astype(np.uint8)
            rgba[under, 3] = 255
    return rgba


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--photos", type=int, default=20)
    ap.add_argument("--model", default="effnet_unet")
    ap.add_argument("--sheet", type=Path, help="JPEG: automatic | strokes | with strokes | truth, a row each")
    args = ap.parse_args()
    model = load_model(args.model)
    rows, cells = [], []
    for path in _eval_paths(args.data, args.val_fraction, None):
        if len(rows) == args.photos:
            break
        try:
            truth = ground_truth(path, None)
        except ImageError:
            continue
        truth = truth if truth.dtype == np.uint8 else (truth // 257).astype(np.uint8)
        strokes = strokes_for(truth)
        auto = colorize_image(model, truth)
        hinted = colorize_image(model, truth, hints=strokes)
        before, after = metrics.image_metrics(auto, truth), metrics.image_metrics(hinted, truth)
        rows.append({"file": str(path), "strokes": int((strokes[..., 3] > 0).sum()),
                     "before": before["ciede2000"], "after": after["ciede2000"],
                     "psnr_before": before["psnr"], "psnr_after": after["psnr"]})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
        if args.sheet:
            painted = np.where(strokes[..., 3:] > 0, strokes[..., :3], auto // 2 + 64)
            cells.append([auto, painted.astype(np.uint8), hinted, truth])
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("before", "after", "psnr_before", "psnr_after")}
    args.out.write_text(json.dumps({"photos": len(rows), "mean": mean, "rows": rows}, indent=1))
    print("mean", json.dumps(mean))
    if args.sheet:
        write_sheet(cells, args.sheet)


def write_sheet(cells: list[list[np.ndarray]], path: Path, height: int = 150) -> None:
    """Rows of four pictures, each fitted to ``height`` pixels tall, white between them."""
    rows = []
    for four in cells:
        fitted = [cv2.resize(c, (round(c.shape[1] * height / c.shape[0]), height), interpolation=cv2.INTER_AREA)
                  for c in four]  # fmt: skip
        gap = np.full((height, 6, 3), 255, np.uint8)
        rows.append(np.hstack([x for c in fitted for x in (c, gap)][:-1]))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    cv2.imwrite(str(path), np.vstack(rows)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    main()
