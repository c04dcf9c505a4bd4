"""What every command of the ``bwcolor`` command line shares: the Typer app, help that reads as
prose, the options spelt the same in every command, exit codes, one-line errors, and the entry
point (:func:`run`). The commands live one to a module beside this one.

Exit codes: 0 everything done (or already done), 1 some files failed, 2 usage error (bad
option, missing or invalid model, an output that would overwrite an input), 130 interrupted.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bwcolor import __version__
from bwcolor.lab import MAX_RENDER_SIZE, MAX_SATURATION

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
        min=0.0,
        max=MAX_SATURATION,
        help="Scale the predicted chroma: 1 is the model's own; above 1 more colourful.",
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
