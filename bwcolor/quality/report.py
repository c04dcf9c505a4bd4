"""The benchmark report folder: report.md, report.json, plots and a contact sheet."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
from torch import nn

from bwcolor import lab
from bwcolor.files.atomic import write_atomic
from bwcolor.files.pixels import Picture
from bwcolor.image.colorize import colorize_rgb
from bwcolor.metrics import METRIC_COLUMNS
from bwcolor.quality.benchmark import SpeedResult
from bwcolor.quality.evaluate import Evaluation, ground_truth

TILE_HEIGHT = 160
LABEL_HEIGHT = 28


#: Every tile of the contact sheet is a cell this wide (the picture fitted and centred in it),
#: so portrait rows leave no gaps and labels are never cut.
CELL_WIDTH = 240


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((LABEL_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text[:40], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, tile])


def _cell(rgb01: np.ndarray) -> np.ndarray:
    """``rgb01`` fitted into a TILE_HEIGHT x CELL_WIDTH cell (uint8), centred on white."""
    h, w = rgb01.shape[:2]
    scale = min(TILE_HEIGHT / h, CELL_WIDTH / w)
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    cell = np.full((TILE_HEIGHT, CELL_WIDTH, 3), 255, np.uint8)
    y, x = (TILE_HEIGHT - th) // 2, (CELL_WIDTH - tw) // 2
    cell[y : y + th, x : x + tw] = (lab.resize(rgb01, th, tw) * 255 + 0.5).astype(np.uint8)
    return cell


def contact_sheet(paths: list[Path], models: dict[str, nn.Module], size: int | None = None) -> np.ndarray:
    """Rows of: gray input, each model's output, ground truth (uint8 RGB), in cells of one size."""
    rows = []
    for path in paths:
        truth = ground_truth(path, size)
        picture = Picture(truth)
        h, w = truth.shape[:2]
        truth01 = truth.astype(np.float32) / (255 if truth.dtype == np.uint8 else 65535)
        gray = lab.merge_lab(lab.rgb_to_lab(truth01)[..., 0], np.zeros((h, w, 2), np.float32))
        tiles = [_label(_cell(gray), "input (L only)")]
        tiles += [
            _label(_cell(colorize_rgb(m, picture)), name) for name, m in models.items() if name != "gray"
        ]
        tiles.append(_label(_cell(truth01), "ground truth"))
        rows.append(np.hstack([np.pad(t, ((0, 4), (0, 4), (0, 0)), constant_values=255) for t in tiles]))
    return np.vstack(rows)


def _plots(evaluation: Evaluation, speed: list[SpeedResult], folder: Path) -> list[str]:
    from matplotlib.figure import Figure  # no pyplot: the caller's matplotlib backend is left alone

    means = evaluation.means()
    fig = Figure(figsize=(10, 4), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, key, title in (
        (axes[0], "ciede2000", "mean CIEDE2000 (lower is better)"),
        (axes[1], "psnr", "PSNR dB"),
    ):
        for s in speed:
            ms = min(s.model_ms_per_image.values())
            ax.scatter(ms, means[s.model][key], s=60)
            ax.annotate(s.model, (ms, means[s.model][key]), textcoords="offset points", xytext=(6, 4))
        if "gray" in means:
            ax.axhline(means["gray"][key], color="gray", linestyle="--", label="gray (a=b=0)")
            ax.legend()
        ax.set_xlabel("model-only ms per image (best batch size)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "quality_vs_speed.png")

    keys = [
        ("psnr", "PSNR dB"),
        ("ssim", "SSIM"),
        ("ciede2000", "CIEDE2000"),
        ("colourfulness_gap", "colourfulness gap"),
    ]
    fig = Figure(figsize=(4 * len(keys), 4), dpi=100)
    axes = fig.subplots(1, len(keys))
    for ax, (key, title) in zip(axes, keys, strict=True):
        data = [
            [r[key] for r in evaluation.rows if r["model"] == m and math.isfinite(r[key])]
            for m in evaluation.models
        ]
        ax.boxplot(data)
        ax.set_xticks(range(1, len(evaluation.models) + 1), evaluation.models, rotation=20)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    fig.suptitle(f"per-image metrics, protocol: {evaluation.protocol}")
    fig.tight_layout()
    fig.savefig(folder / "distributions.png")
    return ["quality_vs_speed.png", "distributions.png"]


def _spread(median: float, span: tuple[float, float] | None, fmt) -> str:
    """``median (min-max)`` of repeated timings."""
    return fmt(median) + (f" ({fmt(span[0])}-{fmt(span[1])})" if span else "")


def _ms(ms: float) -> str:
    """Milliseconds to 3 significant digits at least (a GPU's 0.093 ms is not 0.1)."""
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.3g}"


def write_report(
    folder: Path,
    evaluation: Evaluation,
    speed: list[SpeedResult],
    env: dict,
    command: str,
    sheet: np.ndarray | None,
) -> Path:
    """``report.json``, ``report.md``, the plots and the contact sheet in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    means = evaluation.means()
    n_images = next(iter(means.values()))["images"]
    data = {
        "command": command,
        "environment": env,
        "protocol": evaluation.protocol,
        "images": n_images,
        "quality": means,
        "speed": [asdict(s) for s in speed],
        "skipped": [{"file": f, "reason": why} for f, why in evaluation.skipped],
    }
    write_atomic(folder / "report.json", json.dumps(data, indent=2, default=str).encode())
    plots = _plots(evaluation, speed, folder)
    if sheet is not None:
        ok, buf = cv2.imencode(".png", sheet[..., ::-1])
        write_atomic(folder / "contact_sheet.png", buf.tobytes())
    lines = [
        "# bwcolor benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {env['cpu']} ({env['cpu_count']} CPUs, {env['torch_threads']} torch threads), "
        f"device `{env['device']}`" + (f" ({env['gpu']})" if env.get("gpu") else "") + ". "
        f"bwcolor {env['bwcolor']}, torch {env['torch']}, numpy {env['numpy']}, OpenCV {env['opencv']}, "
        f"Python {env['python']}.",
        "",
        *_quality_lines(means, n_images, evaluation.protocol),
        *_speed_lines(speed),
    ]
    for p in plots:
        lines += [f"![{p}]({p})", ""]
    if sheet is not None:
        lines += ["## Contact sheet", "", "![contact sheet](contact_sheet.png)", ""]
    if evaluation.skipped:
        lines += ["## Skipped", ""] + [f"- `{f}`: {why}" for f, why in evaluation.skipped] + [""]
    write_atomic(folder / "report.md", "\n".join(lines).encode())
    return folder / "report.md"


def _quality_lines(means: dict, n_images: int, protocol: str) -> list[str]:
    """The report's quality section: a row per model."""
    lines = [
        f"## Quality ({n_images} images, protocol: {protocol})",
        "",
        "Each model sees only L. Lower is better for MSE and CIEDE2000, higher for PSNR and SSIM; the "
        "colourfulness gap is output minus ground truth (negative: duller than the original).",
        "",
        "| model | " + " | ".join(c.title for c in METRIC_COLUMNS) + " |",
        "| --- |" + " ---: |" * len(METRIC_COLUMNS),
    ]
    for name, m in means.items():
        lines.append(f"| {name} | " + " | ".join(c.format(m[c.key]) for c in METRIC_COLUMNS) + " |")
    truth = next(iter(means.values()))["colourfulness_true"]
    return lines + ["", f"Ground-truth colourfulness: {truth:.1f}.", ""]


def _speed_lines(speed: list[SpeedResult]) -> list[str]:
    """The report's speed and size section: timings, size, throughput and its share, warnings."""
    batch_sizes = sorted({b for s in speed for b in s.model_ms_per_image})
    head = "| model | render shape | parameters | GFLOPs/image | "
    head += " | ".join(f"model ms/img (batch {b})" for b in batch_sizes)
    head += " | " + " | ".join(f"end-to-end img/s (batch {b})" for b in batch_sizes) + " | peak RSS MB |"
    lines = ["## Speed and size", "", head, "| --- " * (5 + 2 * len(batch_sizes)) + "|"]
    for s in speed:
        cells = [
            s.model,
            f"{s.render_shape[0]}x{s.render_shape[1]}",
            f"{s.parameters:,}"
            + (f" ({s.trainable_parameters:,} trainable)" if s.trainable_parameters != s.parameters else ""),
            f"{s.gflops_per_image:.2f}",
            *[_spread(s.model_ms_per_image[b], s.model_ms_range.get(b), _ms) for b in batch_sizes],
            *[
                _spread(s.end_to_end_images_per_second[b], s.end_to_end_range.get(b), lambda v: f"{v:.2f}")
                for b in batch_sizes
            ],
            f"{s.peak_rss_mb:.0f}"
            + (f" (CUDA {s.cuda_max_allocated_mb:.0f})" if s.cuda_max_allocated_mb else ""),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    head = "| model | " + " | ".join(f"GFLOP/s (batch {b})" for b in batch_sizes)
    head += " | " + " | ".join(f"end-to-end / model-only (batch {b})" for b in batch_sizes) + " |"
    lines += ["", head, "| --- " * (1 + 2 * len(batch_sizes)) + "|"]
    for s in speed:
        cells = [
            s.model,
            *[f"{s.gflops_per_second(b):.0f}" for b in batch_sizes],
            *[f"{100 * s.end_to_end_share(b):.0f}%" for b in batch_sizes],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Model-only: forward pass at the render shape of a 3:2 photo, after warm-up, median of repeats "
        "(their range in brackets). "
        "End to end: the `bwcolor colorize` pipeline on the benchmark images (decode, network, merge, "
        "encode, write). Peak RSS: the whole process while that model ran. GFLOP/s: the forward "
        "pass's floating-point operations (torch's flop counter) per second of model-only time; "
        "end-to-end / model-only: the pipeline's images per second as a share of the forward "
        "pass's.",
        "",
    ]
    warnings = [w for s in speed for w in s.warnings]
    if warnings:
        lines += ["**Warnings:**", ""] + [f"- {w}" for w in warnings] + [""]
    return lines
