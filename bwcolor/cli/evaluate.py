"""`bwcolor evaluate`: models scored against colour ground truth (:mod:`bwcolor.quality.evaluate`), and
the ground-truth photos and models that `benchmark` shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bwcolor.cli.shared import (
    BackboneWeights,
    Device,
    GroundTruth,
    Json,
    Models,
    PlainHelpCommand,
    Precision,
    Quiet,
    RenderSize,
    Saturation,
    SquareSize,
    ValFraction,
    app,
    err,
    error_line,
    fail_usage,
    printable,
    say,
)
from bwcolor.errors import BwcolorError, UsageError
from bwcolor.shipped import SHIPPED_MODELS


def _eval_paths(data: list[str], val_fraction: float | None, limit: int | None) -> list[Path]:
    """Images of DATA; with ``val_fraction``, only those ``bwcolor train`` holds out for validation."""
    from bwcolor.files.inputs import expand_inputs
    from bwcolor.training.dataset import content_hash, in_validation

    sources, problems = expand_inputs(data)
    for p in problems:
        if p.status == "failed":  # not hint files without their photo: evaluation takes no hints
            error_line(p.input, p.message)
    paths = [s.path for s in sources]
    if val_fraction is not None:
        paths = [p for p in paths if in_validation(content_hash(p), val_fraction)]
    if not paths:
        raise UsageError("no images to evaluate")
    return paths[:limit] if limit else paths


def model_labels(names: list[str]) -> list[str]:
    """How each model is named in tables: a shipped model by its name, a checkpoint by its file
    name without .safetensors, with as many of its folders as it takes to tell them all apart
    (``runs/a/baseline`` beside ``baseline``), so no two rows share a label, and no checkpoint is
    labelled like a shipped model (``mine/effnet_unet``, never ``effnet_unet``)."""
    reserved = {*SHIPPED_MODELS, "gray"}
    for depth in range(1, max(len(Path(n).parts) for n in names) + 1):
        labels = [
            "/".join(Path(n).with_suffix("").parts[-depth:]) if n.endswith(".safetensors") else n
            for n in names
        ]
        mistaken = any(
            n.endswith(".safetensors") and lb in reserved for n, lb in zip(names, labels, strict=True)
        )
        if len(set(labels)) == len(labels) and not mistaken:
            return labels
    return names


def _load_models(names: list[str], device: str, backbone_weights: str | None, precision: str) -> dict:
    from bwcolor.device import resolve_device
    from bwcolor.models.checkpoint import load_model

    dev = resolve_device(device)
    names = list(dict.fromkeys(["gray", *names]))  # the gray baseline always, each model once
    return {
        label: load_model(name, dev, backbone_weights, precision)
        for label, name in zip(model_labels(names), names, strict=True)
    }


@app.command(cls=PlainHelpCommand)
def evaluate(
    data: GroundTruth,
    model: Models = None,
    size: SquareSize = None,
    val_fraction: ValFraction = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Evaluate at most N images.")] = None,
    render_size: RenderSize = None,
    saturation: Saturation = 1.0,
    hint_points: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also give each model this many colour hints per photo, drawn from the photo's own "
            "colours (random places, a small patch's mean colour): how much known colours help.",
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Where --hint-points falls (the same for every model).")] = 0,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write per-image rows to this CSV file.")
    ] = None,
    as_json: Json = False,
    quiet: Quiet = False,
    device: Device = "auto",
    precision: Precision = "auto",
    backbone_weights: BackboneWeights = None,
) -> None:
    """Score models against colour ground truth: MSE, PSNR, SSIM, CIEDE2000, colourfulness.

    Each model sees only the L channel and colorizes exactly as 'bwcolor colorize' does.
    """
    from bwcolor.quality.evaluate import NO_GROUND_TRUTH
    from bwcolor.quality.evaluate import evaluate as run_evaluation

    try:
        models = _load_models(model or list(SHIPPED_MODELS), device, backbone_weights, precision)
        paths = _eval_paths(data, val_fraction, limit)
        progress = Progress(
            TextColumn("[bold]evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), console=err, disable=as_json or quiet, transient=True,
        )  # fmt: skip
        with progress:
            task = progress.add_task("evaluate", total=len(paths))
            result = run_evaluation(
                paths,
                models,
                size,
                render_size,
                on_image=lambda _: progress.advance(task),
                saturation=saturation,
                hint_points=hint_points,
                seed=seed,
            )
    except BwcolorError as exc:
        raise fail_usage(str(exc)) from None
    for f, why in result.skipped:
        if why.endswith(NO_GROUND_TRUTH):  # a gray photo has nothing to score against: a note
            say(err, f"bwcolor: note: {f}: skipped: {why}")
        else:
            error_line(f, f"skipped: {why}")
    if csv_path is not None:
        import csv

        try:
            with open(csv_path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(result.rows[0]))
                writer.writeheader()
                writer.writerows(result.rows)
        except OSError as exc:
            raise fail_usage(f"--csv {csv_path}: {exc.strerror or exc}") from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    if quiet:
        return
    from rich.table import Table
    from rich.text import Text

    from bwcolor.metrics import METRIC_COLUMNS

    means = result.means()
    n_images = next(iter(means.values()))["images"]
    from rich import box

    # Fits 80 columns with model names whole: no vertical rules, the model column never cut.
    table = Table(
        title=f"{n_images} images, protocol: {result.protocol}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("model", no_wrap=True, min_width=max(len(printable(n)) for n in means))
    columns = [c for c in METRIC_COLUMNS if c.terminal]
    for column in columns:
        table.add_column(column.short, justify="right", no_wrap=True)
    for name, m in means.items():
        table.add_row(Text(printable(name)), *[c.format(m[c.key]) for c in columns])
    Console().print(table)
    truth = next(iter(means.values()))["colourfulness_true"]
    err.print(
        f"Lower is better for MSE (ab: Lab units squared; RGB: 0-1 scale) and ΔE00 (mean CIEDE2000); "
        f"higher for PSNR (dB) and SSIM. 'colour' is colourfulness (Hasler-Suesstrunk); the ground "
        f"truth's is {truth:.1f}, and 'gap' is the output's minus it. 'vivid': the percentage of pixels "
        f"coloured vividly and wrongly (CIEDE2000 over 20, chroma over 20 and over the truth's by 10); "
        f"'>2%': the share of photos where that exceeds 2%. --json and --csv also hold MSE RGB.",
        markup=False,
    )
