"""Scoring models against colour ground truth, through the same path as ``bwcolor colorize``.

Each model sees only the L channel of a ground-truth colour photo; its output is compared with
the photo. ``gray`` (a = b = 0) is always available and belongs in every table.

Protocols: ``full`` (default) scores at each image's full resolution, which is what users get;
``--size N`` first resizes the ground truth to N x N (the papers' 256x256 protocol).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from bwcolor import lab, metrics
from bwcolor.errors import ImageError, UsageError
from bwcolor.files.decode import read_image
from bwcolor.files.hints import random_points
from bwcolor.files.pixels import to_float
from bwcolor.image.colorize import COLOUR_CHROMA, check_rendering, colorize_image


def protocol_name(size: int | None) -> str:
    return f"square {size}x{size} (ground truth resized)" if size else "full resolution"


@dataclass
class Evaluation:
    protocol: str
    models: list[str]
    rows: list[dict] = field(default_factory=list)  # one per (image, model)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def means(self) -> dict[str, dict[str, float]]:
        return {
            name: {"images": sum(r["model"] == name for r in self.rows)}
            | metrics.mean_metrics([_scores(r) for r in self.rows if r["model"] == name])
            for name in self.models
        }

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "means": self.means(),
            "skipped": [{"file": f, "reason": why} for f, why in self.skipped],
        }


def _scores(row: dict) -> dict[str, float]:
    return {k: v for k, v in row.items() if k not in ("file", "model", "width", "height")}


#: Why a grayscale photo is skipped: there is no colour to score against (not an error).
NO_GROUND_TRUTH = "no colour ground truth"


def ground_truth(path: Path, size: int | None) -> np.ndarray:
    """The colour ground truth as RGB (resized to size x size for the square protocol)."""
    picture = read_image(path)
    if picture.pixels.ndim == 2:
        raise ImageError(f"grayscale: {NO_GROUND_TRUTH}")
    rgb = picture.pixels
    if lab.mean_chroma(to_float(rgb)) < COLOUR_CHROMA:
        raise ImageError(f"near-grayscale: {NO_GROUND_TRUTH}")
    if size:
        rgb = lab.resize(rgb, size, size)
    return rgb


def evaluate(
    paths: list[Path],
    models: dict[str, nn.Module],
    size: int | None = None,
    render_size: int | None = None,
    on_image: Callable[[Path], None] | None = None,
    saturation: float = 1.0,
    hint_points: int = 0,
    seed: int = 0,
) -> Evaluation:
    """Score every model on every colour image of ``paths``.

    ``hint_points``: each model is also given this many colour hints drawn from the truth
    (:func:`bwcolor.files.hints.random_points`: random places, a small patch's mean colour), the same
    for every model and every run with the same ``seed`` (drawn from the seed and the file's name).
    """
    check_rendering(render_size, saturation)
    protocol = protocol_name(size) + (
        f", {hint_points} hint points a photo (seed {seed})" if hint_points else ""
    )
    result = Evaluation(protocol, list(models))
    for path in paths:
        try:
            truth = ground_truth(path, size)
        except ImageError as exc:
            result.skipped.append((str(path), str(exc)))
        else:
            rng = np.random.default_rng([seed, zlib.crc32(Path(path).name.encode())])
            hints = random_points(truth, hint_points, rng) if hint_points else None
            for name, model in models.items():
                pred = colorize_image(model, truth, render_size, saturation, hints)
                row = {"file": str(path), "model": name, "width": truth.shape[1], "height": truth.shape[0]}
                result.rows.append(row | metrics.image_metrics(pred, truth))
        if on_image:
            on_image(path)
    if not result.rows:
        reasons = "; ".join(f"{f}: {why}" for f, why in result.skipped[:3])
        raise UsageError(f"no colour ground-truth images to evaluate on ({reasons or 'no images'})")
    return result
