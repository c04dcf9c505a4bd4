"""`bwcolor benchmark`: quality, speed and memory of models (:mod:`bwcolor.quality.benchmark`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from bwcolor.cli.evaluate import _eval_paths, _load_models
from bwcolor.cli.shared import (
    BackboneWeights,
    Device,
    GroundTruth,
    Json,
    Models,
    PlainHelpCommand,
    Precision,
    Quiet,
    SquareSize,
    ValFraction,
    app,
    err,
    fail_usage,
    printable,
    say,
)
from bwcolor.errors import BwcolorError
from bwcolor.shipped import SHIPPED_MODELS


@app.command(cls=PlainHelpCommand)
def benchmark(
    data: GroundTruth,
    model: Models = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Report folder.")] = Path("benchmark-report"),
    limit: Annotated[int | None, typer.Option(min=1, help="Use at most N images.")] = 24,
    val_fraction: ValFraction = None,
    size: SquareSize = None,
    batch_size: Annotated[
        list[int] | None,
        typer.Option("--batch-size", min=1, help="Batch sizes to time (repeat). Default: 1 and 8."),
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timed repeats (the median is reported).")] = 3,
    sheet: Annotated[int, typer.Option(min=0, help="Images on the contact sheet.")] = 6,
    device: Device = "auto",
    precision: Precision = "auto",
    backbone_weights: BackboneWeights = None,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Compare models on the same images: quality, speed, memory and size, in a report folder.

    Writes report.md and report.json, quality-vs-speed and per-image plots, and a contact sheet
    (gray input, each model, ground truth).
    """
    import shlex
    import sys

    from bwcolor.device import environment, resolve_device
    from bwcolor.quality import benchmark as bench
    from bwcolor.quality.evaluate import evaluate as run_evaluation
    from bwcolor.quality.report import contact_sheet, write_report

    batch_sizes = sorted(set(batch_size or [1, 8]))
    try:
        models = _load_models(model or list(SHIPPED_MODELS), device, backbone_weights, precision)
        paths = _eval_paths(data, val_fraction, limit)
        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=True, disable=quiet or as_json,
        )  # fmt: skip
        with progress:
            task = progress.add_task("quality", total=len(paths))
            evaluation = run_evaluation(paths, models, size, on_image=lambda _: progress.advance(task))
            usable = [p for p in paths if str(p) not in {f for f, _ in evaluation.skipped}]
            steps = len([m for m in models if m != "gray"]) * len(batch_sizes) * 2
            task = progress.add_task("speed", total=steps)
            speed = []
            for name, net in models.items():
                if name == "gray":  # no network: nothing to time
                    continue
                speed.append(
                    bench.measure(
                        name, net, usable, batch_sizes, repeats,
                        on_step=lambda s: progress.update(task, advance=1, description=escape(printable(s))),
                    )
                )  # fmt: skip
            picture = contact_sheet(usable[:sheet], models, size) if sheet else None
    except BwcolorError as exc:
        raise fail_usage(str(exc)) from None
    env = environment(resolve_device(device))
    command = "bwcolor " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        report = write_report(output, evaluation, speed, env, command, picture)
    except OSError as exc:
        raise fail_usage(f"--output {output}: {exc.strerror or exc}") from None
    if as_json:
        typer.echo((report.parent / "report.json").read_text())
    elif not quiet:
        _print_speed(speed, batch_sizes)
        say(err, f"report: {report}")
    for warning in (w for s in speed for w in s.warnings):
        say(err, f"bwcolor: warning: {warning}")


def _print_speed(speed, batch_sizes: list[int]) -> None:
    """The benchmark's speed table in the terminal: medians, with the repeats' range."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title="speed (median, min-max of the repeats)", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("model", no_wrap=True)
    for b in batch_sizes:
        table.add_column(f"ms/image, batch {b}", justify="right")
    for b in batch_sizes:
        table.add_column(f"images/s end to end, batch {b}", justify="right")
    for s in speed:
        ms = [
            f"{s.model_ms_per_image[b]:.3g} ({s.model_ms_range[b][0]:.3g}-{s.model_ms_range[b][1]:.3g})"
            for b in batch_sizes
        ]
        rates = [
            f"{s.end_to_end_images_per_second[b]:.3g} ({s.end_to_end_range[b][0]:.3g}-{s.end_to_end_range[b][1]:.3g})"
            for b in batch_sizes
        ]
        table.add_row(Text(printable(s.model)), *ms, *rates)
    Console(stderr=True).print(table)
