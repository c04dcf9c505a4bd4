"""`bwcolor colorize`: photos and films, files, folders and globs (the library call is
:func:`bwcolor.pipeline.folders.colorize_paths`)."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from bwcolor.cli.progress import ColorizeProgress
from bwcolor.cli.shared import (
    CLUSTER,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    FILMS,
    HINTS,
    PERFORMANCE,
    BackboneWeights,
    Device,
    Json,
    PlainHelpCommand,
    Precision,
    Quiet,
    RenderSize,
    Saturation,
    app,
    err,
    fail_usage,
    say,
)
from bwcolor.errors import BwcolorError
from bwcolor.files.decode import DEFAULT_MAX_PIXELS
from bwcolor.pipeline.outputs import DEFAULT_OUTPUT
from bwcolor.pipeline.temporal import CARRY
from bwcolor.shipped import DEFAULT_MODEL


@app.command(cls=PlainHelpCommand)
def colorize(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Photos and videos: files, folders (searched recursively) or glob patterns.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Output folder, mirroring the input tree (default: colorized). For one input, a file "
            "name with an image or video extension writes that file, in that format.",
            show_default=False,
        ),
    ] = None,
    suffix: Annotated[
        str | None,
        typer.Option(
            help="Write each output beside its input, named NAME<SUFFIX>.EXT (e.g. --suffix _colour), "
            "instead of into a folder.",
            show_default=False,
        ),
    ] = None,
    include_colorized: Annotated[
        bool,
        typer.Option(
            help="Also colorize inputs that bwcolor's provenance tag marks as its own outputs "
            "(default: skip them, counted in the summary)."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(help="List what would be written, skipped and why; load and write nothing."),
    ] = False,
    colour_inputs: Annotated[
        str,
        typer.Option(
            help="Inputs that are already colour or toned (sepia) photos: colorize (from their "
            "luminance; they are named in the summary) or skip.",
        ),
    ] = "colorize",
    compare: Annotated[
        bool,
        typer.Option(
            help="Also write NAME.compare.jpg beside each photo's output: the input and the output side "
            "by side, for sharing."
        ),
    ] = False,
    hints: Annotated[
        Path | None,
        typer.Option(
            "--hints",
            help="Colours known at some places of the one photo given: a JSON file of points or a PNG "
            "of painted strokes (see docs/hints.md). Without it, a photo's NAME.hints.json and "
            "NAME.hints.png beside it are used.",
            show_default=False,
            rich_help_panel=HINTS,
        ),
    ] = None,
    no_hints: Annotated[
        bool,
        typer.Option(
            "--no-hints",
            help="Ignore hint files beside the photos: colorize automatically.",
            rich_help_panel=HINTS,
        ),
    ] = False,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model name (effnet_unet, fusion, baseline: see docs/models.md) or checkpoint path.",
        ),
    ] = DEFAULT_MODEL,
    backbone_weights: BackboneWeights = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Output format: jpg, png, tif, webp, bmp. Default: the input's."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Redo outputs that already exist (default: skip them).")
    ] = False,
    recursive: Annotated[bool, typer.Option(help="Search folders recursively.")] = True,
    device: Device = "auto",
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Images per network batch. Default: 1 on a CPU (fastest there), 8 on a GPU.",
            rich_help_panel=PERFORMANCE,
        ),
    ] = None,
    precision: Precision = "auto",
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Threads decoding, and as many encoding, beside inference. Default: 2 on a CPU, "
            "more beside a GPU.",
            show_default=False,
            rich_help_panel=PERFORMANCE,
        ),
    ] = None,
    render_size: RenderSize = None,
    saturation: Saturation = 1.0,
    temporal_smoothing: Annotated[
        float,
        typer.Option(
            help="Videos: how much of each frame's colour follows the motion into the next, from 0 "
            "(every frame colorized alone: colours flicker) to below 1 (steadier, slower to change). "
            "Scene cuts always start afresh.",
            rich_help_panel=FILMS,
        ),
    ] = CARRY,
    start: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Films: start this many seconds in (e.g. to try settings on a stretch of a long reel).",
            rich_help_panel=FILMS,
        ),
    ] = 0.0,
    duration: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Films: colorize only this many seconds (from --start).",
            show_default=False,
            rich_help_panel=FILMS,
        ),
    ] = None,
    codec: Annotated[
        str | None,
        typer.Option(
            help="Films: h264 (default; VP9 in .webm), h265 (smaller), vp9, or ffv1 (lossless, for "
            "archives: .mkv or .avi).",
            show_default=False,
            rich_help_panel=FILMS,
        ),
    ] = None,
    crf: Annotated[
        int | None,
        typer.Option(
            help="Films: the encoder's quality, lower is better and larger (default: h264 18, h265 22, "
            "vp9 30; ffv1 is lossless).",
            show_default=False,
            rich_help_panel=FILMS,
        ),
    ] = None,
    quality: Annotated[int, typer.Option(min=1, max=100, help="JPEG/WebP quality.")] = 95,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Run on a Dask cluster: the scheduler's address (e.g. tcp://10.0.0.5:8786). Workers "
            "must see the same paths. See docs/scale.md.",
            show_default=False,
            rich_help_panel=CLUSTER,
        ),
    ] = None,
    provenance: Annotated[
        bool,
        typer.Option(
            help="Tag outputs as colorized by bwcolor, naming the model (EXIF Software, XMP IPTC "
            "Digital Source Type), so they are never taken for original colour photographs."
        ),
    ] = True,
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Refuse images with more pixels, before decoding.")
    ] = DEFAULT_MAX_PIXELS,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also name each skipped file the summary only counts (outputs that exist, ...).",
        ),
    ] = False,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Colorize black-and-white photos and films: files, folders or globs, at full resolution.

    Outputs go under --output with the input tree mirrored, in the input's format and bit depth;
    a video keeps its container, frame rate, size, frame count and sound, and its colours follow
    the motion from frame to frame. Inputs are never modified; existing outputs are skipped, so a
    rerun resumes.
    """
    from bwcolor.pipeline.folders import colorize_paths

    shown = ColorizeProgress(err, quiet, verbose)
    stop = threading.Event()

    def on_sigint(signum, frame) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now (written files are complete all the same)
            raise KeyboardInterrupt
        stop.set()
        say(
            err,
            "bwcolor: stopping after the current batch of photos, abandoning a video in progress "
            "(Ctrl-C again to stop at once)",
        )

    try:
        with _signal_handler(signal.SIGINT, on_sigint):
            summary = colorize_paths(
                inputs, output, model, suffix=suffix, include_colorized=include_colorized, compare=compare,
                colour_inputs=colour_inputs, hints=hints, hint_files=not no_hints, fmt=fmt, overwrite=overwrite, recursive=recursive, device=device,
                batch_size=batch_size, workers=workers, precision=precision, render_size=render_size,
                saturation=saturation, temporal_smoothing=temporal_smoothing, start=start, duration=duration,
                codec=codec, crf=crf, quality=quality,
                max_pixels=max_pixels, provenance=provenance, backbone_weights=backbone_weights,
                scheduler=scheduler, on_start=shown.start, on_result=shown.result, on_video=shown.video,
                on_frames=shown.frames, stop=stop, dry_run=dry_run,
            )  # fmt: skip
    except BwcolorError as exc:
        raise fail_usage(str(exc)) from None
    finally:
        shown.stop()
    where = f"beside each input (NAME{suffix}.EXT)" if suffix is not None else str(output or DEFAULT_OUTPUT)
    if as_json:
        typer.echo(json.dumps({**summary.to_dict(), "output": where}))
    elif not quiet:
        _print_summary(summary, where, summary.interrupted, dry_run)
    if summary.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_SOME_FAILED if summary.failed else EXIT_OK)


@contextlib.contextmanager
def _signal_handler(signum: int, handler):
    """Install ``handler`` for ``signum`` while in the block (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def _print_summary(summary, output: str, interrupted: bool, dry_run: bool = False) -> None:
    head = "Dry run" if dry_run else "Interrupted" if interrupted else "Done"
    done = f"{summary.planned} would be colorized" if dry_run else f"{summary.done} colorized"
    if summary.hinted:
        done += f" ({summary.hinted} with colour hints)"
    skipped = f"{summary.skipped} skipped (output exists"
    if summary.skipped_other_model:
        skipped += f"; {summary.skipped_other_model} made by another model: --overwrite redoes them"
    if summary.skipped_colour:
        skipped += f"; {summary.skipped_colour} already colour or toned: --colour-inputs colorize takes them"
    if summary.skipped_colorized:
        skipped += (
            f"; {summary.skipped_colorized} already colorized by bwcolor: --include-colorized takes them"
        )
    line = f"{head}: {done}, {skipped}), {summary.failed} failed"
    if summary.done:
        rates = []
        if summary.done > summary.videos:
            rates.append(f"{summary.images_per_second:.2f} images/s")
        if summary.videos:
            rates.append(
                f"{summary.videos} video(s), {summary.frames} frames, {summary.frames_per_second:.1f} frames/s"
            )
        line += f" in {summary.seconds:.1f} s ({'; '.join(rates)})"
    say(err, line + (f". Output: {output}" if summary.done else "."))
    if summary.colour_inputs:
        more = summary.colour_inputs - len(summary.colour_files)
        named = ", ".join(summary.colour_files) + (f" and {more} more" if more > 0 else "")
        say(
            err,
            f"{summary.colour_inputs} input(s) were already colour or toned (e.g. sepia): {named}; "
            "colorized from their luminance.",
        )
