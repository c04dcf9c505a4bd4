"""The ``bwcolor`` command line: a thin Typer layer over the core package.

Exit codes: 0 everything done (or already done), 1 some files failed, 2 usage error (bad
option, missing or invalid model, an output that would overwrite an input), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import signal
import threading
import time
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
    TimeRemainingColumn,
)

from bwcolor import __version__
from bwcolor.decode import DEFAULT_MAX_PIXELS
from bwcolor.decoding import parse_decoding
from bwcolor.errors import BwcolorError, UsageError
from bwcolor.lab import MAX_RENDER_SIZE
from bwcolor.outputs import COUNTED_SKIPS, DEFAULT_OUTPUT
from bwcolor.shipped import DEFAULT_MODEL, SHIPPED_MODELS
from bwcolor.temporal import CARRY

#: The shipped weights (weights/), and the one `bwcolor colorize` uses unless told otherwise: the
#: most colourful on the validation split (docs/models.md); the paper's two networks mostly sepia.

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_INTERNAL = 70  # an unexpected error: a bug in bwcolor or its libraries (EX_SOFTWARE)
DEBUG_ENV = "BWCOLOR_DEBUG"
_debug = False

app = typer.Typer(
    name="bwcolor",
    help="Colorize black-and-white photographs with deep learning.",
    no_args_is_help=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
#: Metavars by value type, for options that name none: help reads as prose, not Python types.
METAVARS = {int: "N", float: "NUMBER", Path: "PATH", str: "TEXT"}


def _flags_without_type(params: list) -> list:
    """Flags (``--help``, ``--version``, ``--overwrite``) shown without a type: no ``<bool>``."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.display_type_rich = lambda ctx: None
    return params


class PlainHelpGroup(typer.core.TyperGroup):
    """The top level's help: its flags without a type, as the commands' (:class:`PlainHelpCommand`)."""

    def get_params(self, ctx):
        return _flags_without_type(super().get_params(ctx))


app.info.cls = PlainHelpGroup


class PlainHelpCommand(typer.core.TyperCommand):
    """A command whose help shows what a value is (``--output FOLDER``, ``--batch-size N``)
    rather than its Python type (``<path>``, ``<int range> [x>=1]``), flags without a type, and
    arguments in the usage line as ``INPUTS...`` (not ``{inputs}...``). Ranges are stated in
    each option's help where they matter."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.help:  # the docstring's paragraphs reflowed to the terminal, not cut at its line ends
            paragraphs = inspect.cleandoc(self.help).split("\n\n")
            self.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)
        for param in self.params:
            param._get_number_range_help_str = lambda: None
            if isinstance(param, typer.core.TyperArgument):
                shown = param.name.upper() + ("..." if param.nargs != 1 else "")
                param.metavar = shown
                param._usage_display_name = lambda shown=shown, p=param: shown if p.required else f"[{shown}]"
                param.display_type_rich = lambda ctx: None
            elif getattr(param, "is_flag", False):
                param.display_type_rich = lambda ctx: None
            elif param.metavar is None:
                kind = param.type_descriptor.annotation
                param.metavar = next((m for t, m in METAVARS.items() if kind is t), "VALUE")

    def get_params(self, ctx):
        return _flags_without_type(super().get_params(ctx))  # --help too

    def parse_args(self, ctx, args):
        """An unknown option suggests only options that look like it (click offers ``--model``
        for ``--nope``)."""
        import difflib

        try:
            return super().parse_args(ctx, args)
        except Exception as exc:  # noqa: BLE001 - Typer's own copy of click's NoSuchOption, by name
            if type(exc).__name__ != "NoSuchOption":
                raise
            names = [n for p in self.get_params(ctx) for n in p.opts if n.startswith("--")]
            close = difflib.get_close_matches(exc.option_name, names, cutoff=0.75)
            raise type(exc)(exc.option_name, possibilities=close, ctx=ctx) from None


def _multiple_of_8(value: int | None, name: str) -> int | None:
    if value is not None and value % 8:
        raise typer.BadParameter(f"{name} must be a multiple of 8, got {value}")
    return value


# Options shared by several commands.
GroundTruth = Annotated[
    list[str], typer.Argument(help="Colour ground-truth images: files, folders or globs.", show_default=False)
]
Models = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="Model name or checkpoint; repeat to compare. Default: every shipped model (baseline, fusion, "
        "effnet_unet). 'gray' (a = b = 0) is always added.",
    ),
]
ValFraction = Annotated[
    float | None, typer.Option(help="Only the images 'bwcolor train --val-fraction F' holds out.")
]
#: Help panels: the everyday options first, then how the work runs, then clusters.
PERFORMANCE, CLUSTER, HINTS, FILMS = "Speed and hardware", "Clusters", "Colour hints", "Films"
Device = Annotated[
    str,
    typer.Option(
        help="auto, cpu, cuda or mps; auto takes a GPU when there is one.", rich_help_panel=PERFORMANCE
    ),
]
Precision = Annotated[
    str,
    typer.Option(
        help="Arithmetic of the network: fp32, fp16 (GPU) or bf16, by autocast; auto: fp32 (fp16 "
        "gained nothing end to end on a GPU; docs/benchmarks.md).",
        rich_help_panel=PERFORMANCE,
    ),
]
RenderSize = Annotated[
    int | None,
    typer.Option(
        min=16,
        max=MAX_RENDER_SIZE,
        callback=lambda v: _multiple_of_8(v, "--render-size"),
        help=f"Long side the network sees (a multiple of 8, 16 to {MAX_RENDER_SIZE}). Default: the model's.",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary (errors still shown).")]
Json = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")]
SquareSize = Annotated[
    int | None,
    typer.Option(
        "--square-size",
        "--size",
        min=16,
        help="Score at N x N, the ground truth resized first (the papers' protocol uses 256). "
        "Default: each image at full resolution, as users get it.",
    ),
]
Saturation = Annotated[
    float,
    typer.Option(
        min=0.0, max=4.0, help="Scale the predicted chroma: 1 is the model's own; above 1 more colourful."
    ),
]
Decoding = Annotated[
    list[str] | None,
    typer.Option(
        "--decoding",
        metavar="KEY=VALUE",
        help="A decoding setting of a colour-classes model (temperature, prior_weight, chroma_scale, "
        "hue_boost, hue_power; see docs/models.md), e.g. --decoding chroma_scale=1.3; repeat for more.",
        show_default=False,
    ),
]
BackboneWeights = Annotated[
    str | None,
    typer.Option(help="Local ImageNet weights for the inception_resnet_v2 backbone (no package ships them)."),
]


def printable(text: str) -> str:
    """``text`` safe for a terminal: the bytes of non-UTF-8 file names and every control or
    format character (a newline, ESC, a right-to-left override) shown as escapes (``\\xe9``,
    ``\\n``, ``\\x1b``), so a file name can neither crash the output nor forge a line or move
    the cursor."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def say(console: Console, text: str) -> None:
    console.print(printable(text), markup=False, highlight=False)


def error_line(subject: str, message: str) -> None:
    """One line on stderr naming the file (or input) and the cause."""
    say(err, f"bwcolor: error: {subject}: {message}")


def fail_usage(message: str) -> typer.Exit:
    say(err, f"bwcolor: error: {message}")
    return typer.Exit(EXIT_USAGE)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bwcolor {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    version: Annotated[
        bool | None,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an unexpected error, show the full traceback (for a bug report).",
            envvar=DEBUG_ENV,
        ),
    ] = False,
) -> None:
    """Colorize black-and-white photographs with deep learning."""
    global _debug
    _debug = debug
    if ctx.invoked_subcommand is None:  # plain `bwcolor`: the help, and success
        typer.echo(ctx.get_help())
        raise typer.Exit(EXIT_OK)


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
    from bwcolor.folders import colorize_paths

    progress = Progress(
        TextColumn("[bold]colorizing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, disable=quiet, transient=False,
    )  # fmt: skip
    task = frames_task = None

    def on_start(jobs: int, planned) -> None:
        nonlocal task
        if planned.removed_temporaries and not quiet:
            say(
                err,
                f"bwcolor: note: removed {planned.removed_temporaries} partial file(s) left by an interrupted run",
            )
        if jobs:
            progress.start()
            task = progress.add_task("colorize", total=jobs, rate="")

    def on_result(result) -> None:
        if result.status == "planned":
            if not quiet:
                how = f" ({result.message})" if result.message else ""
                say(progress.console, f"would colorize: {result.source} -> {result.output}{how}")
            return
        if result.status == "unused":
            if not quiet:
                say(progress.console, f"bwcolor: note: {result.source}: {result.message}")
            return
        if result.status == "failed":
            say(progress.console, f"bwcolor: error: {result.source}: {result.message}")
        elif (
            result.status == "skipped"
            and not quiet
            and (verbose or not result.message.startswith(COUNTED_SKIPS))
        ):
            say(progress.console, f"bwcolor: note: {result.source}: {result.message}")  # the rest: counted
        for note in result.notes:
            say(progress.console, f"bwcolor: note: {result.source}: {note}")
        if task is not None:  # a file of the run (skips and planning failures come before it)
            elapsed = progress.tasks[0].elapsed or 0
            done = progress.tasks[0].completed + 1
            progress.update(task, advance=1, rate=f"{done / elapsed:.2f} files/s" if elapsed else "")

    def on_video(source: str, frames: int) -> None:
        """A video starts: a bar of its frames, in place of the last video's."""
        nonlocal frames_task
        if frames_task is not None:
            progress.remove_task(frames_task)
        frames_task = progress.add_task("frames", total=frames or None, rate="frames")

    def on_frames(n: int) -> None:
        if frames_task is not None:
            progress.update(frames_task, advance=n)

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
                scheduler=scheduler, on_start=on_start, on_result=on_result, on_video=on_video,
                on_frames=on_frames, stop=stop, dry_run=dry_run,
            )  # fmt: skip
    except BwcolorError as exc:
        raise fail_usage(str(exc)) from None
    finally:
        progress.stop()
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


@app.command(cls=PlainHelpCommand)
def train(
    ctx: typer.Context,
    data: Annotated[
        list[str] | None,
        typer.Argument(help="Folders (recursive), files or globs of colour photos.", show_default=False),
    ] = None,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Output folder (the best checkpoint is MODEL.safetensors in it), or the best "
            "checkpoint's file name (.safetensors); the resumable checkpoint, the log and the loss "
            "plot go beside it.",
        ),
    ] = Path("."),
    model: Annotated[
        str, typer.Option("--model", "-m", help="Network to train: effnet_unet, fusion or baseline.")
    ] = DEFAULT_MODEL,
    backbone: Annotated[
        str, typer.Option(help="fusion only: efficientnet_lite0 or inception_resnet_v2.")
    ] = "efficientnet_lite0",
    backbone_weights: BackboneWeights = None,
    crop_size: Annotated[
        int,
        typer.Option(
            "--crop-size", "--image-size", help="Side of the square training crops (a multiple of 8)."
        ),
    ] = 128,
    render_size: Annotated[
        int | None, typer.Option(help="Long side the trained model renders at. Default: 2 x crop size.")
    ] = None,
    epochs: Annotated[
        int,
        typer.Option(min=1, help="Passes over the training photos (with --max-per-source, balanced ones)."),
    ] = 10,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Photos per optimisation step (under torchrun, over all processes).")
    ] = 16,
    lr: Annotated[float, typer.Option(help="Peak learning rate (Adam; warm-up then cosine decay).")] = 1e-3,
    weight_decay: Annotated[float, typer.Option(min=0.0, help="AdamW decoupled weight decay.")] = 0.0,
    embedding_dropout: Annotated[
        float,
        typer.Option(min=0.0, max=0.9, help="fusion only: dropout on the backbone embedding while training."),
    ] = 0.0,
    patience: Annotated[
        int | None, typer.Option(min=1, help="Stop after N epochs without a better validation loss.")
    ] = None,
    head: Annotated[
        str | None,
        typer.Option(
            help="fusion, effnet_unet: 'regression' (ab with MSE, the paper) or 'classes' (ab classes "
            "with cross-entropy, decoded by the annealed mean: more vivid colours). Default: the "
            "model's (regression for fusion, classes for effnet_unet).",
            show_default=False,
        ),
    ] = None,
    rebalance: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="0: plain loss (the paper). >0: weight rare colours up (0.5 as Zhang et al.).",
        ),
    ] = 0.0,
    seed: Annotated[
        int, typer.Option(help="Seeds initialisation, order and crops: the same seed, the same run.")
    ] = 0,
    val_fraction: Annotated[
        float, typer.Option(help="Share of images held out for validation, chosen by content hash.")
    ] = 0.1,
    val: Annotated[
        list[str] | None, typer.Option(help="Validation folder(s) instead of --val-fraction.")
    ] = None,
    max_images: Annotated[
        int | None,
        typer.Option(
            "--limit", "--max-images", min=1, help="Train on at most N images (the first by content hash)."
        ),
    ] = None,
    max_per_source: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Balance the sources: each DATA argument gives an epoch at most this many images, "
            "a new random draw every epoch.",
        ),
    ] = None,
    val_limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="Validate on at most this many held-out images, taken in turn from each source."
        ),
    ] = None,
    checkpoint_minutes: Annotated[
        float,
        typer.Option(min=0.0, help="Also save the resumable checkpoint this often within an epoch."),
    ] = 10.0,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Decoded-image and embedding cache. Default: ~/.cache/bwcolor or $BWCOLOR_CACHE."),
    ] = None,
    device: Device = "auto",
    workers: Annotated[int, typer.Option(min=1, help="Threads preparing batches.")] = 2,
    resume: Annotated[
        Path | None, typer.Option(help="Continue from a *.last.safetensors checkpoint.")
    ] = None,
    tune_encoder_blocks: Annotated[
        int,
        typer.Option(
            min=0,
            max=16,
            help="effnet_unet: also train the last N of its encoder's 16 blocks (and its head), "
            "not only the decoder; slower, for large data.",
        ),
    ] = 0,
    hint_inputs: Annotated[
        bool,
        typer.Option(
            "--hint-inputs",
            help="effnet_unet: give the network colour-hint inputs (known colours at a few places, "
            "as `colorize --hints` gives them) and train them on random hints from each photo's own "
            "colours; with no hints it colours on its own.",
        ),
    ] = False,
    decoding: Decoding = None,
    init_from: Annotated[
        str | None,
        typer.Option(
            help="Start from this checkpoint's weights (or a shipped model's: fine-tuning) instead of "
            "at random; a new run, with its own schedule.",
            show_default=False,
        ),
    ] = None,
    precision: Annotated[
        str,
        typer.Option(
            help="Arithmetic of the forward passes: fp32, or bf16 by autocast; auto: bf16 on a GPU and "
            "on CPUs that compute in bf16 natively (AMX or AVX-512 BF16), fp32 elsewhere."
        ),
    ] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the per-epoch lines.")] = False,
    as_json: Json = False,
) -> None:
    """Train a network on any folder of colour photos: L in, ab out.

    Writes the best checkpoint (by validation loss) to --output, and beside it a resumable
    *.last.safetensors (after every epoch, every --checkpoint-minutes, and on Ctrl-C or SIGTERM),
    a *.log.jsonl and a *.loss.png. The loss is the model's: cross-entropy over ab colour classes
    for effnet_unet, MSE on ab for baseline and fusion (the paper's), unless --head says otherwise.
    """
    from bwcolor import dataset
    from bwcolor.distributed import rank_from_environment
    from bwcolor.training import TrainConfig, TrainingInterrupted
    from bwcolor.training import train as run_training

    quiet = quiet or rank_from_environment() != 0  # under torchrun, rank 0 reports for all
    if not data and resume is None:
        raise fail_usage("give the training data (folders, files or globs), or --resume CHECKPOINT")
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, disable=quiet,
    )  # fmt: skip
    task = None
    plain = _LogLines() if not quiet and not err.is_terminal else None

    def on_event(kind: str, **ev) -> None:
        nonlocal task
        if kind == "warning":  # shown even with --quiet: it is about the result
            say(progress.console, f"bwcolor: warning: {ev['message']}")
            return
        if plain is not None:
            plain.event(kind, ev)
        if kind == "phase":
            if task is not None:
                progress.update(task, visible=False)
            task = progress.add_task(ev["name"], total=ev["total"], completed=ev.get("done", 0), info="")
        elif kind == "advance":
            progress.advance(task, ev["n"])
        elif kind == "checkpoint":
            progress.update(task, info=f"checkpoint saved {time.strftime('%H:%M')}")
        elif kind == "data":
            s = ev["summary"]
            progress.console.print(
                f"data: {s.train} train, {s.val} validation; skipped {s.skipped_gray} grayscale or "
                f"near-grayscale, {s.skipped_unreadable} unreadable"
                + (f", {s.skipped_shape} too thin" if s.skipped_shape else "")
                + f"; decoded {s.decoded} (rest from cache)",
                markup=False,
            )
            if len(s.sources) > 1:
                for name, counts in s.sources.items():
                    progress.console.print(
                        f"  {printable(name)}: {counts['train']} train, {counts['val']} validation",
                        markup=False,
                    )
            for problem in s.problems:
                say(progress.console, f"bwcolor: skipped: {problem}")
        elif kind == "epoch_start":
            if task is not None:
                progress.update(task, visible=False)
            task = progress.add_task(
                f"epoch {ev['epoch'] + 1}/{ev['epochs']}", total=ev["batches"], completed=ev["done"], info=""
            )
        elif kind == "batch":
            progress.update(
                task, advance=1, info=f"loss {ev['loss']:.5f} {ev['images_per_second']:.1f} img/s"
            )
        elif kind == "early_stop":
            progress.console.print(
                f"stopping early: no better validation loss in the last {ev['patience']} epochs", markup=False
            )
        elif kind == "epoch_end":
            r = ev["record"]
            val_text = f"{r['val_loss']:.5f}" if r["val_loss"] is not None else "n/a"
            if r.get("val_mse") is not None and r["val_mse"] != r["val_loss"]:
                val_text += f"  val MSE {r['val_mse']:.5f}"
            if r.get("val_ciede2000") is not None:
                val_text += f"  val CIEDE2000 {r['val_ciede2000']:.2f}"
            if r.get("val_loss_hints") is not None:
                val_text += f"  val with hints {r['val_loss_hints']:.5f}"
            progress.console.print(
                f"epoch {r['epoch']}: train {r['train_loss']:.5f}  val {val_text}  lr {r['lr']:.2e}  "
                f"{r['images_per_second']} img/s  {r['seconds']:.0f} s"
                + ("  (best, saved)" if ev["improved"] else ""),
                markup=False,
            )

    try:
        with progress:
            if resume is not None:
                given = {
                    name: value
                    for name, value in ctx.params.items()
                    if name not in ("data", "resume", "quiet", "as_json")
                    and getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"
                }
                if given.get("cache_dir") is not None:
                    given["cache_dir"] = str(given["cache_dir"])
                if data:
                    given["data"] = list(data)
                result = run_training(resume=resume, on_event=on_event, **given)
            else:
                cfg = TrainConfig(
                    data=list(data), output=str(output), model=model, backbone=backbone,
                    backbone_weights=backbone_weights, crop_size=crop_size, render_size=render_size,
                    epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                    embedding_dropout=embedding_dropout, patience=patience, head=head, rebalance=rebalance, seed=seed,
                    val_fraction=val_fraction,
                    val=list(val) if val else None, max_images=max_images, max_per_source=max_per_source,
                    val_limit=val_limit, checkpoint_minutes=checkpoint_minutes, precision=precision,
                    init_from=init_from, tune_encoder_blocks=tune_encoder_blocks, hint_inputs=hint_inputs,
                    decoding=parse_decoding(decoding),
                    cache_dir=str(cache_dir or dataset.default_cache()), device=device, workers=workers,
                )  # fmt: skip
                result = run_training(cfg, on_event=on_event)
    except TrainingInterrupted as exc:
        say(err, f"bwcolor: {exc}")
        raise typer.Exit(128 + int(exc.signum)) from None
    except BwcolorError as exc:
        raise fail_usage(str(exc)) from None
    if rank_from_environment() != 0:
        return
    if as_json:
        typer.echo(json.dumps(result))
    say(err, _training_summary(result))


class _LogLines:
    """Progress as plain lines, for a training run whose stderr goes to a log file (where a
    progress bar would only be drawn when it ends): each phase's start and end, then a line
    every ``every`` seconds and at each checkpoint, with counts, rate and time left."""

    def __init__(self, every: float = 120.0):
        self.every, self.name, self.total, self.done, self.first = every, "", 0, 0, 0
        self.t0 = self.shown = 0.0

    def start(self, name: str, total: int, done: int = 0, where: str = "") -> None:
        """A phase begins with ``done`` of ``total`` already done (``where``: how, e.g. from the
        cache); time left counts only what this phase does."""
        self.name, self.total, self.done, self.first = name, total, done, done
        self.t0 = self.shown = time.monotonic()
        self.say(f"{done}/{total}" + (f" {where}" if done and where else ""))

    def say(self, text: str) -> None:
        say(err, f"{time.strftime('%H:%M:%S')} {self.name}: {text}")
        self.shown = time.monotonic()

    def line(self, extra: str = "") -> None:
        elapsed, left = time.monotonic() - self.t0, ""
        if self.done > self.first and self.total > self.done:
            left = f", {_duration(elapsed / (self.done - self.first) * (self.total - self.done))} left"
        self.say(f"{self.done}/{self.total}{left}{extra}")

    def event(self, kind: str, ev: dict) -> None:
        if kind == "phase":
            self.start(ev["name"], ev["total"], ev.get("done", 0), "found in the cache")
        elif kind == "advance":
            self.done += ev["n"]
            if self.done >= self.total:
                self.say(f"{self.total}/{self.total} in {_duration(time.monotonic() - self.t0)}")
            elif time.monotonic() - self.shown >= self.every:
                self.line()
        elif kind == "epoch_start":
            self.start(f"epoch {ev['epoch'] + 1}/{ev['epochs']}, batches", ev["batches"], ev["done"])
        elif kind == "batch":
            self.done += 1
            if time.monotonic() - self.shown >= self.every:
                self.line(f", loss {ev['loss']:.4f}, {ev['images_per_second']:.1f} img/s")
        elif kind == "checkpoint":
            self.line(", resumable checkpoint saved")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _training_summary(result: dict) -> str:
    """The final line: the best epoch's validation figures beside gray's, each named."""
    history = result["history"]
    scored = [h for h in history if h["val_loss"] is not None]
    where = f"last: {result['last']}; log: {result['log']}" + (
        f"; plot: {result['plot']}" if result["plot"] else ""
    )
    if not scored:
        return (
            f"best checkpoint: {result['best']} (no validation set; training {result['loss_name']} "
            f"{result['best_val_loss']:.5f}); {where}"
        )
    best = min(scored, key=lambda h: h["val_loss"])
    figures = f"validation MSE on ab {best['val_mse']:.5f} (gray, a=b=0: {result['gray_val_loss']:.5f})"
    if best["val_mse"] != best["val_loss"]:
        figures += f", validation {result['loss_name']} {best['val_loss']:.4f}"
    return f"best checkpoint: {result['best']} (epoch {best['epoch']}: {figures}); {where}"


def _eval_paths(data: list[str], val_fraction: float | None, limit: int | None) -> list[Path]:
    """Images of DATA; with ``val_fraction``, only those ``bwcolor train`` holds out for validation."""
    from bwcolor.dataset import content_hash, in_validation
    from bwcolor.inputs import expand_inputs

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
    from bwcolor.checkpoint import load_model
    from bwcolor.device import resolve_device

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
    from bwcolor.evaluate import NO_GROUND_TRUTH
    from bwcolor.evaluate import evaluate as run_evaluation

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
    for column in METRIC_COLUMNS:
        table.add_column(column.short, justify="right", no_wrap=True)
    for name, m in means.items():
        table.add_row(Text(printable(name)), *[c.format(m[c.key]) for c in METRIC_COLUMNS])
    Console().print(table)
    truth = next(iter(means.values()))["colourfulness_true"]
    err.print(
        f"Lower is better for MSE (ab: Lab units squared; RGB: 0-1 scale) and ΔE00 (mean CIEDE2000); "
        f"higher for PSNR (dB) and SSIM. 'colour' is colourfulness (Hasler-Suesstrunk); the ground "
        f"truth's is {truth:.1f}, and 'gap' is the output's minus it.",
        markup=False,
    )


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

    from bwcolor import benchmark as bench
    from bwcolor.device import environment, resolve_device
    from bwcolor.evaluate import evaluate as run_evaluation
    from bwcolor.report import contact_sheet, write_report

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


@app.command(cls=PlainHelpCommand)
def edit(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Photos: files, folders or glob patterns (step through them in the page).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where saved photos go, as for colorize (default: colorized).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option("--model", "-m", help="Model name (effnet_unet, fusion, baseline) or checkpoint path."),
    ] = DEFAULT_MODEL,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0: a free one).")] = 0,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. Anything but 127.0.0.1 lets other machines reach your photos "
            "(with the URL's token): unsafe on a shared network."
        ),
    ] = "127.0.0.1",
    browser: Annotated[
        bool, typer.Option(help="Open the page in the web browser (--no-browser prints the URL only).")
    ] = True,
    device: Device = "auto",
    precision: Precision = "auto",
    render_size: RenderSize = None,
    saturation: Saturation = 1.0,
    backbone_weights: BackboneWeights = None,
    recursive: Annotated[bool, typer.Option(help="Search folders recursively.")] = True,
) -> None:
    """Place colour hints on photos in the browser, with the model's suggestions and a live preview.

    A local page shows the photo colorized; click a place to see the colours the model finds likely
    there, pick one (or any colour) and the preview follows. Save writes the photo's hint file
    beside it (so bwcolor colorize later gives the same colours) and, if ticked, the colorized
    photo. Ctrl-C stops the server.
    """
    from bwcolor.editor import open_session
    from bwcolor.editserver import EditServer

    try:
        session = open_session(inputs, output, model, device=device, precision=precision, render_size=render_size,
                               saturation=saturation, backbone_weights=backbone_weights, recursive=recursive)  # fmt: skip
        server = EditServer(session, host, port)
    except BwcolorError as exc:
        raise fail_usage(str(exc)) from None
    except OSError as exc:
        raise fail_usage(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    say(err, f"bwcolor edit: {len(session)} photo(s); open {server.url}  (Ctrl-C stops)")
    if browser:
        import webbrowser

        webbrowser.open(server.url)
    thread = server.serve_in_thread()
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        say(err, "bwcolor edit: stopped")
    finally:
        server.shutdown()
        server.server_close()


@app.command(cls=PlainHelpCommand)
def models(as_json: Json = False) -> None:
    """The shipped models: what each is for, its size, and how it was trained.

    Their weights are in the package (or in $BWCOLOR_WEIGHTS_DIR); `bwcolor info NAME` shows one in full.
    """
    from rich.table import Table

    from bwcolor.model_info import shipped_models

    found = shipped_models()
    if as_json:
        typer.echo(json.dumps(found))
        return
    table = Table(box=None, header_style="bold")
    for column in ("model", "what it is for", "size", "trained on"):
        table.add_column(column)
    for m in found:
        trained = m["trained_on"].get("train")
        table.add_row(
            m["name"] + (" (default)" if m["default"] else ""), m["purpose"],
            f"{m['megabytes']} MB, {m['stored_parameters']:,} parameters stored",
            f"{trained:,} photos" if trained else "",
        )  # fmt: skip
    Console().print(table)


@app.command(cls=PlainHelpCommand)
def info(
    model: Annotated[
        str, typer.Argument(help="A shipped model's name or a checkpoint file.", show_default=False)
    ],
    decoding: Decoding = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="With --decoding: the new checkpoint file to write (a copy with "
            "those settings; the model is not modified).",
            show_default=False,
        ),
    ] = None,
    note: Annotated[str, typer.Option(help="With --decoding: why (kept in the new file's header).")] = "",
    as_json: Json = False,
) -> None:
    """What a checkpoint says about itself: its model, settings, training and scores.

    Read from its header alone: no weights are loaded. With --decoding and -o, writes a copy that
    decodes colour with those settings (the weights unchanged), and describes the copy.
    """
    from bwcolor.decoding import write_with_decoding
    from bwcolor.model_info import describe

    try:
        if decoding or output is not None:
            if output is None:
                raise UsageError("--decoding writes a copy of the model: name it with -o NEW.safetensors")
            model = str(write_with_decoding(model, output, parse_decoding(decoding), note))
        found = describe(model)
    except BwcolorError as exc:
        raise fail_usage(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(found))
        return
    for key, value in found.items():
        if value not in (None, {}, ""):
            text = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
            say(Console(), f"{key.replace('_', ' ')}: {text}")


def run() -> None:
    """Console-script entry point: anything unexpected ends as one line and exit code 70
    (Ctrl-C as one line and 130); ``--debug`` or BWCOLOR_DEBUG=1 shows the traceback instead."""
    import os
    import sys

    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the one place that turns any error into one line
        if _debug or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
            raise
        name = type(exc).__name__
        say(err, f"bwcolor: error: unexpected {name}: {exc} (rerun with --debug for the traceback)")
        sys.exit(EXIT_INTERNAL)
