"""`bwcolor edit`: the local page for colour hints (:mod:`bwcolor.edit.session`, :mod:`bwcolor.edit.server`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bwcolor.cli.shared import (
    BackboneWeights,
    Device,
    PlainHelpCommand,
    Precision,
    RenderSize,
    Saturation,
    app,
    err,
    fail_usage,
    say,
)
from bwcolor.errors import BwcolorError
from bwcolor.shipped import DEFAULT_MODEL


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
    from bwcolor.edit.server import EditServer
    from bwcolor.edit.session import open_session

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
