"""`bwcolor models` and `bwcolor info`: what the shipped models and a checkpoint say about
themselves (:mod:`bwcolor.models.info`), and a copy with other decoding settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bwcolor.cli.shared import (
    Decoding,
    Json,
    PlainHelpCommand,
    app,
    fail_usage,
    say,
)
from bwcolor.errors import BwcolorError, UsageError
from bwcolor.models.decoding import parse_decoding


@app.command(cls=PlainHelpCommand)
def models(as_json: Json = False) -> None:
    """The shipped models: what each is for, its size, and how it was trained.

    Their weights are in the package (or in $BWCOLOR_WEIGHTS_DIR); `bwcolor info NAME` shows one in full.
    """
    from rich.table import Table

    from bwcolor.models.info import shipped_models

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
    from bwcolor.models.decoding import write_with_decoding
    from bwcolor.models.info import describe

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
