"""Training a colorization network on folders of colour photos (``bwcolor train``).

The loss is the model's: MSE on normalised ab (the paper's networks) or, with a classes head,
cross-entropy over ab classes (see :mod:`bwcolor.models.colour_classes`). AdamW with a warm-up +
cosine learning-rate schedule; channels_last, and bf16 autocast where the device computes in
bf16 natively (CUDA; CPUs with AMX or AVX-512 BF16). Photos come through
:mod:`bwcolor.training.dataset`'s cache a batch at a time; whatever else a model needs (fusion's cached
backbone embeddings, effnet_unet's colour prior) comes from its training hooks
(:mod:`bwcolor.models.hooks`): the :class:`Trainer` knows no particular model.

Determinism: epoch ``e``'s order and batch ``k``'s augmentation come from generators seeded by
``(seed, e)`` and ``(seed, e, k)``, so a resumed run sees exactly the batches an uninterrupted
run would. The resumable checkpoint stores the model, optimizer, schedule, position and torch's
RNG; it is saved after each epoch, every ``checkpoint_minutes``, and on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bwcolor.device import environment, native_bf16, resolve_device
from bwcolor.errors import BwcolorError, ModelError, UsageError
from bwcolor.files.atomic import write_atomic
from bwcolor.files.inputs import expand_inputs
from bwcolor.lab import MAX_RENDER_SIZE, SIZE_MULTIPLE, Normalisation
from bwcolor.models import create_model, list_models, model_class
from bwcolor.models.checkpoint import (
    is_checkpoint,
    load_model,
    model_state,
    read_checkpoint,
    resolve_model_path,
    save_checkpoint,
)
from bwcolor.models.colour_classes import AB_CELLS, class_loss, grid_cell
from bwcolor.models.decoding import check_decoding
from bwcolor.models.hooks import TrainingHooks
from bwcolor.shipped import DEFAULT_MODEL
from bwcolor.training import dataset, distributed
from bwcolor.training.resumable import TrainState, resume_problem


class TrainingInterrupted(BwcolorError):
    """Ctrl-C or SIGTERM during a run. In the epochs, a resumable checkpoint was saved (at
    ``self.path``); before them (hashing, decoding, embeddings) there is nothing new to save, but
    the cache keeps what was done, so the same command (or the same ``--resume``) picks it up."""

    def __init__(self, path: Path | None, signum: int = signal.SIGINT, saved: bool = True):
        if path is None:
            text = (
                "interrupted before training began: nothing to resume; "
                "the same command starts again and reuses the cache"
            )
        elif saved:
            text = f"interrupted: resumable checkpoint saved to {path}; continue with --resume {path}"
        else:
            text = (
                f"interrupted: {path}, the resumable checkpoint saved last, is as it was; "
                f"continue with --resume {path}"
            )
        super().__init__(text)
        self.path = path
        self.signum = signum


class TrainingDiverged(BwcolorError):
    """The loss became NaN or infinite: the run stops (exit 2) without saving the broken weights;
    the resumable checkpoint saved last, if any, is kept as it was."""

    def __init__(self, where: str, last: Path | None):
        kept = f"{last}, the resumable checkpoint saved last, is kept" if last else "nothing was saved"
        super().__init__(
            f"training diverged: the loss became NaN or infinite {where} (a learning rate too high?); {kept}"
        )
        self.path = last


class _Terminated(BaseException):
    """Raised in the training loop by the SIGTERM handler (a KeyboardInterrupt for SIGTERM)."""


#: Options that a resumed run may change; every other one would make it another run.
RESUMABLE_OPTIONS = ("epochs", "device", "workers", "checkpoint_minutes", "cache_dir", "precision")


@dataclass
class TrainConfig:
    data: list[str]
    output: str
    model: str = DEFAULT_MODEL
    backbone: str | None = None  # the ImageNet network; None: the model's default, or --init-from's
    backbone_weights: str | None = None
    crop_size: int = 128
    render_size: int | None = None  # long side at inference; default 2 x crop_size
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0  # AdamW's decoupled weight decay
    embedding_dropout: float = 0.0  # fusion only
    patience: int | None = None  # stop after this many epochs without a better validation loss
    head: str | None = None  # "regression" or "classes" (fusion, effnet_unet); None: the model's default
    rebalance: float = 0.0  # 0: plain loss (the paper); >0: weight rare ab colours up (Zhang et al.'s lambda)
    warmup: float = 0.03  # fraction of all steps
    seed: int = 0
    val_fraction: float = 0.1
    val: list[str] | None = None
    max_images: int | None = None
    max_per_source: int | None = None  # images each DATA argument gives an epoch at most
    val_limit: int | None = None  # validation images at most, taken in turn from each source
    cache_dir: str | None = None  # None: dataset.default_cache() (no home folder in the header)
    device: str = "auto"
    workers: int = 2
    checkpoint_minutes: float = 10.0  # the resumable checkpoint is also saved this often mid-epoch
    precision: str = "auto"  # forward passes: "fp32", or "bf16" by autocast; auto: bf16 where native
    init_from: str | None = None  # start from this checkpoint's weights (fine-tuning), not at random
    tune_encoder_blocks: int = 0  # effnet_unet: also train the encoder's last N blocks
    hint_inputs: bool = False  # effnet_unet: take colour hints, trained on random ones (models.hints)
    decoding: dict[str, float] = field(default_factory=dict)  # decoding settings (bwcolor.models.decoding)

    def check(self) -> None:
        trainable = [m for m in list_models() if m != "gray"]
        if self.model not in trainable:
            raise UsageError(f"unknown model {self.model!r} to train: use one of {', '.join(trainable)}")
        if self.crop_size % SIZE_MULTIPLE or self.crop_size < 16:
            raise UsageError(f"--crop-size must be a multiple of {SIZE_MULTIPLE}, at least 16")
        if not 0 <= self.val_fraction < 1:
            raise UsageError("--val-fraction must be in [0, 1)")
        tunable = "tune_encoder_blocks" in model_class(self.model).Config.__dataclass_fields__
        if self.tune_encoder_blocks and not tunable:
            raise UsageError(f"--tune-encoder-blocks is for effnet_unet, not {self.model}")
        if self.hint_inputs and "hint_inputs" not in model_class(self.model).Config.__dataclass_fields__:
            raise UsageError(f"--hint-inputs is for effnet_unet, not {self.model}")
        if self.backbone is not None:
            if "backbone" not in model_class(self.model).Config.__dataclass_fields__:
                raise UsageError(f"--backbone is for effnet_unet and fusion, not {self.model}")
            problem = model_class(self.model).Config(backbone=self.backbone).problem()
            if problem:
                raise UsageError(f"--backbone {self.backbone}: {problem}")
        if self.decoding:  # the settings and their ranges; _build_model checks them with the inherited head
            check_decoding(self.model, {"head": self.head or getattr(model_class(self.model).Config, "head", None),
                                        **self.decoding})  # fmt: skip
        if self.precision not in ("auto", "fp32", "bf16"):
            raise UsageError(f"--precision must be auto, fp32 or bf16 for training, not {self.precision!r}")
        if self.epochs < 1 or self.batch_size < 1 or not 0 < self.lr < math.inf:
            raise UsageError("--epochs, --batch-size and --lr must be positive (and finite)")
        for name in ("weight_decay", "embedding_dropout", "rebalance", "checkpoint_minutes", "warmup"):
            value = getattr(self, name)
            if not 0 <= value < math.inf:
                raise UsageError(
                    f"--{name.replace('_', '-')} must be a finite number, at least 0, not {value}"
                )
        if self.head not in (None, "regression", "classes"):
            raise UsageError(f"--head must be 'regression' or 'classes', not {self.head!r}")
        with_head = [m for m in trainable if "head" in model_class(m).Config.__dataclass_fields__]
        if self.head is not None and self.model not in with_head:
            raise UsageError(f"--head is for the {' and '.join(sorted(with_head))} models only")
        render = self.render_size if self.render_size is not None else 2 * self.crop_size
        if render % SIZE_MULTIPLE or not 16 <= render <= MAX_RENDER_SIZE:  # as a checkpoint requires
            given = "--render-size" if self.render_size is not None else "--render-size (2 x --crop-size)"
            raise UsageError(
                f"{given} {render}: must be a multiple of {SIZE_MULTIPLE} between 16 and {MAX_RENDER_SIZE}"
            )

    def cache_folder(self) -> Path:
        """Where decoded photos and embeddings are cached."""
        return Path(self.cache_dir) if self.cache_dir else dataset.default_cache()

    def check_files(self) -> None:
        """What the run will write to and start from, before any photo is read: the cache folder
        can be written, and ``init_from`` is a checkpoint of this model."""
        dataset.check_cache_dir(self.cache_folder())
        if self.init_from:
            try:
                header, _ = read_checkpoint(resolve_model_path(self.init_from))
            except ModelError as exc:
                raise UsageError(f"--init-from {self.init_from}: {exc}") from None
            if header["model"] != self.model:
                raise UsageError(
                    f"--init-from {self.init_from}: a {header['model']} checkpoint, not {self.model}"
                )


def _data_files(patterns: list[str], what: str, is_val: bool = False) -> list[dataset.DataFile]:
    """The image files of each pattern; each pattern is a source (for --max-per-source)."""
    files, seen, problems = [], set(), []
    for pattern in patterns:
        sources, trouble = expand_inputs([pattern])
        problems += [p for p in trouble if p.status == "failed"]  # not hint files: not photos
        for s in sources:
            key = s.path.resolve()
            if key not in seen:
                seen.add(key)
                files.append(dataset.DataFile(s.path, pattern, is_val))
    if problems and not files:
        raise UsageError(f"{what}: " + "; ".join(f"{p.input}: {p.message}" for p in problems))
    return files


#: What a run started from another checkpoint (``--init-from``, fine-tuning) takes from it unless
#: told otherwise: how it is built (its head, the encoder blocks it tunes, its hint inputs) and
#: how it decodes and renders colour, so that fine-tuning the default keeps its colourfulness.
INHERITED = ("render_size", "head", "backbone", "tune_encoder_blocks", "hint_inputs", "temperature",
             "prior_weight", "chroma_scale", "hue_boost", "hue_power")  # fmt: skip


def _build_model(cfg: TrainConfig, from_data: dict[str, Any] | None = None, base: dict | None = None):
    """The model ``cfg`` names, with the config options it has (and those the data decided).

    ``base``: the config of the checkpoint the run starts from (``--init-from``) or continues
    (``--resume``): its :data:`INHERITED` settings hold unless the run's options say otherwise (it
    may tune more encoder blocks, or add hint inputs, never fewer)."""
    known = set(model_class(cfg.model).Config.__dataclass_fields__)
    base = {k: v for k, v in (base or {}).items() if k in INHERITED}
    wanted = {
        **base,
        "render_size": cfg.render_size or base.get("render_size") or 2 * cfg.crop_size,
        "backbone": cfg.backbone or base.get("backbone"),
        "backbone_weights": cfg.backbone_weights,
        "embedding_dropout": cfg.embedding_dropout,
        "head": cfg.head or base.get("head"),
        "tune_encoder_blocks": max(cfg.tune_encoder_blocks, base.get("tune_encoder_blocks", 0)) or None,
        "hint_inputs": (cfg.hint_inputs or base.get("hint_inputs")) or None,
        **(from_data or {}),
        **cfg.decoding,
    }
    options = {k: v for k, v in wanted.items() if k in known and v is not None}
    if cfg.decoding:
        check_decoding(cfg.model, {"head": getattr(model_class(cfg.model).Config, "head", None), **options})
    try:
        return create_model(cfg.model, **options)
    except (KeyError, TypeError, RuntimeError) as exc:
        raise UsageError(str(exc.args[0] if exc.args else exc)) from None


def rebalance_weights(
    images, lam: float, scale: float, sigma: float = 0.5, sample: int = 2000
) -> torch.Tensor:
    """Per-grid-cell loss weights that make rare (saturated) colours count more (Zhang et al. 2016).

    The empirical ab distribution p of the training images is smoothed, mixed with a uniform one
    over the colours that occur, and inverted: w = 1 / ((1 - lam) p + lam / Q), scaled so that
    the expected weight under p is 1. ``lam`` = 0.5 is Zhang et al.'s choice. p is estimated on
    at most ``sample`` images, evenly spread over the set.
    """
    import cv2

    counts = np.zeros(AB_CELLS * AB_CELLS, np.float64)
    for i in np.unique(np.linspace(0, len(images) - 1, min(sample, len(images))).astype(int)):
        img = images[i]
        ab = torch.from_numpy(dataset.lab.rgb_to_lab(img.astype(np.float32) / 255)[..., 1:] / scale)
        counts += np.bincount(
            grid_cell(ab.permute(2, 0, 1)[None], scale).ravel().numpy(), minlength=counts.size
        )
    p = cv2.GaussianBlur(counts.reshape(AB_CELLS, AB_CELLS), (0, 0), sigma).ravel()
    p /= p.sum()
    used = p > 1e-6
    w = np.zeros_like(p)
    w[used] = 1.0 / ((1 - lam) * p[used] + lam / used.sum())
    w /= (p * w).sum()
    return torch.from_numpy(w.astype(np.float32))


def _lr_factor(step: int, total: int, warmup: float) -> float:
    warm = max(1, int(total * warmup))
    if step < warm:
        return (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim/{idx}/{key}"] = value
            else:
                scalars[f"{idx}/{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("extra/optim/"):
            _, _, idx, key = name.split("/", 3)
            state.setdefault(int(idx), {})[key] = value
    for name, value in info["scalars"].items():
        idx, key = name.split("/", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def _signal_of(stop: BaseException) -> int:
    return signal.SIGTERM if isinstance(stop, _Terminated) else signal.SIGINT


@contextmanager
def _sigterm_as_interrupt():
    """While a run lasts, SIGTERM (a scheduler's or a shutdown's stop) ends it like Ctrl-C: in
    the epochs, the resumable checkpoint is saved first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _config_for_resume(resume: Path, saved: dict, overrides: dict[str, Any]) -> TrainConfig:
    """The saved run's config, with the options a resumed run may change.

    Outputs go next to the checkpoint given (never to a path read from the file), and the cache
    where this command says; any other option that differs from the saved run is refused.
    """
    if "image_size" in saved:  # the name of crop_size in checkpoints written before 2026-12-03
        saved = {"crop_size": saved["image_size"], **{k: v for k, v in saved.items() if k != "image_size"}}
    model = saved.get("model")
    if model in list_models() and "backbone" not in model_class(model).Config.__dataclass_fields__:
        # runs saved before effnet_unet took --backbone recorded fusion's default whatever their model
        saved = {k: v for k, v in saved.items() if k != "backbone"}
    output = resume.with_name(resume.name.removesuffix(".last.safetensors") + ".safetensors")
    changed = sorted(
        k
        for k, v in overrides.items()
        if k not in RESUMABLE_OPTIONS and not _same_option(k, saved, v, output)
    )
    if changed:
        names = ", ".join("--" + k.replace("_", "-") for k in changed)
        allowed_names = ", ".join("--" + k.replace("_", "-") for k in RESUMABLE_OPTIONS)
        raise UsageError(
            f"--resume continues the saved run, so {names} cannot change (only {allowed_names} can); "
            "start a new run to change them"
        )
    allowed = {k: v for k, v in overrides.items() if k in RESUMABLE_OPTIONS}
    allowed.setdefault("cache_dir", None)
    known = set(TrainConfig.__dataclass_fields__)
    return TrainConfig(**{**{k: v for k, v in saved.items() if k in known}, **allowed, "output": str(output)})


def best_checkpoint_path(output: str | Path, model: str) -> Path:
    """Where ``-o`` puts the best checkpoint: the .safetensors file it names, or MODEL.safetensors
    in the folder it names."""
    output = Path(output)
    return output if output.name.endswith(".safetensors") else output / f"{model}.safetensors"


def _same_option(key: str, saved: dict, given: Any, output: Path) -> bool:
    """Whether an option given with --resume says what the saved run said: paths are compared as
    the files they name (``../data`` and ``/srv/data`` are one folder when both lead there; ``-o``
    is the folder or file the resumed run writes to, beside its checkpoint)."""
    if key == "output":
        return best_checkpoint_path(given, saved.get("model")).absolute() == output.absolute()
    if key == "data" and given is not None and saved.get("data") is not None:
        return [os.path.abspath(d) for d in given] == [os.path.abspath(d) for d in saved["data"]]
    return saved.get(key) == given


def output_paths(output: Path) -> dict[str, Path]:
    """Everything a run writes: the best checkpoint, the resumable one, the log and the plot."""
    stem = output.name.removesuffix(".safetensors")
    return {
        "best": output,
        "last": output.with_name(stem + ".last.safetensors"),
        "log": output.with_name(stem + ".log.jsonl"),
        "plot": output.with_name(stem + ".loss.png"),
    }


def _check_outputs(output: Path, files: list[dataset.DataFile], resumed: bool) -> list[dataset.DataFile]:
    """``files`` less this run's own loss plot (a PNG that a run with ``-o`` inside DATA left);
    refuses outputs that would overwrite a training photo, or a file that is not a checkpoint."""
    inputs = {f.path.resolve() for f in files}
    paths = output_paths(output)
    plot = paths["plot"].resolve()
    if plot in inputs and _is_loss_plot(plot):
        inputs.discard(plot)
        files = [f for f in files if f.path.resolve() != plot]
    for path in paths.values():
        if path.resolve() in inputs:
            raise UsageError(f"{path} would overwrite a training image; choose another --output")
    for key in ("best", "last") if not resumed else ():
        if paths[key].exists() and not is_checkpoint(paths[key]):
            raise UsageError(f"{paths[key]} exists and is not a bwcolor checkpoint: it is not overwritten")
    if paths["log"].exists() and not _is_training_log(paths["log"]):
        raise UsageError(f"{paths['log']} exists and is not a bwcolor training log: it is not overwritten")
    if paths["plot"].exists() and not _is_loss_plot(paths["plot"]):
        raise UsageError(f"{paths['plot']} exists and is not a bwcolor loss plot: it is not overwritten")
    return files


def write_log(path: Path, history: list[dict]) -> None:
    """The run's log, one JSON record per epoch, replaced whole (by rename: never through a link)."""
    write_atomic(path, "".join(json.dumps(r) + "\n" for r in history).encode(), durable=False)


def _is_training_log(path: Path) -> bool:
    """A file :func:`write_log` wrote: empty, or JSON lines each an epoch's record."""
    try:
        if path.stat().st_size > 1 << 26:  # 64 MB: far more epochs than a run logs
            return False
        text = path.read_bytes().decode()
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return all(isinstance(r, dict) and "epoch" in r and "train_loss" in r for r in records)


def _is_loss_plot(path: Path) -> bool:
    """A PNG written by matplotlib (as :func:`_plot` writes), not a photo."""
    from bwcolor.files.decode import open_image

    try:
        with open(path, "rb") as f, open_image(f) as im:
            return im.format == "PNG" and str(im.info.get("Software", "")).startswith("Matplotlib")
    except Exception:  # noqa: BLE001 - unreadable: not ours
        return False


def _load_data(cfg: TrainConfig, emit, main: bool, resumed: bool = False):
    """Training and validation image sets, through the cache (``main``: this process reports)."""
    files = _data_files(cfg.data, "training data")
    if cfg.val:
        held = _data_files(cfg.val, "validation data", is_val=True)
        held_paths = {f.path.resolve() for f in held}
        files = [f for f in files if f.path.resolve() not in held_paths] + held
    files = _check_outputs(Path(cfg.output), files, resumed)
    train_set, val_set, data = dataset.load_images(
        files,
        round(cfg.crop_size * 1.25),
        cfg.cache_folder(),
        0.0 if cfg.val else cfg.val_fraction,
        cfg.max_images,
        cfg.val_limit,
        jobs=os.cpu_count() or 1,
        on_event=emit if main else None,
    )
    emit("data", summary=data)
    for warning in dataset.data_warnings(data, fine_tuning=cfg.init_from is not None):
        emit("warning", message=warning)
    if len(train_set) == 0 and len(val_set):
        raise UsageError(
            f"all {len(val_set)} usable images are in the validation set: give more data or a smaller --val-fraction"
        )
    if len(train_set) == 0:
        raise UsageError(
            f"no usable training images: {data.found} found, {data.skipped_gray} grayscale or near-grayscale, "
            f"{data.skipped_unreadable} unreadable"
        )
    return train_set, val_set, data


#: Seeds the random hints of validation (with the run's seed and the batch), the same each epoch.
VALIDATION_HINTS_KEY = 7919

#: Training photos that decide data-dependent config (e.g. the colour prior), drawn as an epoch is.
DATA_SAMPLE = 3000


class _Subset:
    """Images ``indices`` of a sequence, loaded when indexed."""

    def __init__(self, images, indices):
        self.images, self.indices = images, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        return self.images[int(self.indices[i])]


def _starting_config(cfg: TrainConfig) -> dict:
    """The config of the checkpoint ``cfg.init_from`` names (empty for a run from scratch)."""
    if not cfg.init_from:
        return {}
    return read_checkpoint(resolve_model_path(cfg.init_from))[0]["config"]


def _init_from(model: torch.nn.Module, cfg: TrainConfig) -> None:
    """Start ``model`` from the weights of checkpoint (or shipped model) ``cfg.init_from``: the
    same network with the same head; its optimizer state and schedule are not taken."""
    source = load_model(cfg.init_from, device="cpu", backbone_weights=cfg.backbone_weights)
    if source.model_name != cfg.model:
        raise UsageError(f"--init-from {cfg.init_from}: a {source.model_name} checkpoint, not {cfg.model}")
    mine, theirs = model_state(model), model_state(source)
    # A run may tune more of a pretrained encoder than its source did: those weights are the
    # encoder's own; new inputs (colour hints) start neutral; every other weight must be the
    # source's, in the same shape.
    own = ("encoder.", *getattr(model, "neutral_weights", ()))
    unmatched = [k for k in mine if k not in theirs and not k.startswith(own)]
    if unmatched or any(k not in mine or mine[k].shape != v.shape for k, v in theirs.items()):
        raise UsageError(
            f"--init-from {cfg.init_from}: its weights do not fit this {cfg.model} (another head or backbone?)"
        )
    model.load_state_dict(source.state_dict(), strict=False)


def _start(config: TrainConfig | None, resume: str | Path | None, overrides: dict[str, Any]):
    """The run's config, state and (resuming) checkpoint: a new run, or the saved one continued."""
    if resume is None:
        cfg = config or TrainConfig(**overrides)
        if not cfg.output.endswith(".safetensors"):  # a folder: the checkpoint is named after the model
            if Path(cfg.output).exists() and not Path(cfg.output).is_dir():
                raise UsageError(
                    f"-o {cfg.output}: exists and is not a folder (give a folder, or a .safetensors file name)"
                )
            cfg.output = str(best_checkpoint_path(cfg.output, cfg.model))
        return cfg, TrainState(), None
    resume = Path(resume)
    header, tensors = read_checkpoint(resume)
    meta = header["meta"]
    if "train_config" not in meta and "train_state" not in meta:
        raise UsageError(f"{resume}: not a resumable checkpoint (use the *.last.safetensors file)")
    problem = resume_problem(meta, tensors)
    if problem:
        raise UsageError(f"{resume}: not a resumable checkpoint: {problem}")
    cfg = _config_for_resume(resume, meta["train_config"], overrides)
    state = TrainState(**header["meta"]["train_state"])
    if cfg.epochs < state.epoch:
        raise UsageError(f"--epochs {cfg.epochs}: the run has already trained {state.epoch} epochs")
    return cfg, state, (resume, header, tensors)


class Trainer:
    """One training run: the model, its optimizer and schedule, the data, and the epoch loop.

    Nothing here depends on a particular model: what a model needs beyond L and ab comes from
    its ``training_hooks`` (see :mod:`bwcolor.models.hooks`).
    """

    def __init__(self, cfg: TrainConfig, state: TrainState, resumed, emit: Callable[..., None]):
        self.cfg, self.state, self.emit = cfg, state, emit
        self.device, self.procs = self._processes()
        self.paths = output_paths(Path(cfg.output))
        try:
            self.paths["best"].parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"-o {cfg.output}: cannot create its folder ({exc.strerror or exc})") from None
        self.norm = Normalisation()
        if not self.procs.main:
            self.procs.barrier()  # rank 0 fills the shared caches first; the others then only read them
        self.train_set, self.val_set, self.data = _load_data(
            cfg, self.emit, self.procs.main, resumed is not None
        )
        torch.manual_seed(cfg.seed)
        self.hooks = getattr(model_class(cfg.model), "training_hooks", TrainingHooks)(self.emit)
        self.model = self._model(resumed).to(self.device).to(memory_format=torch.channels_last)
        self._optimizer(resumed)
        drawn = np.unique(
            np.concatenate(
                [
                    dataset.epoch_indices(self.train_set, cfg.seed, e, cfg.max_per_source)
                    for e in range(cfg.epochs)
                ]
            )
        )
        self.hooks.prepare(self.model, self.train_set, self.val_set, cfg.cache_folder(), cfg.crop_size, drawn)
        if self.procs.main:
            self.procs.barrier()
        self.net = self.model
        if self.procs.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self._validation_data()
        self.bin_weights = None
        if cfg.rebalance > 0:
            weights = rebalance_weights(self.train_set.images, cfg.rebalance, self.norm.ab_scale)
            self.bin_weights = weights.to(self.device)
        self.classes = getattr(self.model.config, "head", "regression") == "classes"
        self.autocast = cfg.precision == "bf16" or (cfg.precision == "auto" and native_bf16(self.device))
        self.meta = {
            "train_config": asdict(cfg),
            "data": self.data.to_dict(),
            "gray_val_loss": self.gray_val,
            "command": " ".join(["bwcolor", *(shlex.quote(a) for a in sys.argv[1:])]),
            "environment": environment(self.device),
        }

    def _processes(self):
        """The device, and the processes of the run (torchrun: one per device)."""
        device = resolve_device(self.cfg.device)
        procs = distributed.start(device)
        if procs.distributed and device.type == "cuda":
            device = torch.device("cuda", procs.local_rank)
        if not procs.main:
            self.emit = lambda *a, **k: None  # rank 0 reports for all
        if self.cfg.batch_size < procs.world:
            raise UsageError(
                f"--batch-size ({self.cfg.batch_size}) is the global batch: give at least one image per process"
            )
        return device, procs

    def _model(self, resumed) -> torch.nn.Module:
        """The network, built with what the data decide (e.g. the colour prior, from photos as
        balanced as an epoch's; the same again on resume: the sample is seeded), then given the
        resumed run's weights or those it starts from (``--init-from``)."""
        cfg = self.cfg
        balanced = np.sort(
            dataset.epoch_indices(self.train_set, cfg.seed, 0, cfg.max_per_source)[:DATA_SAMPLE]
        )
        sample = _Subset(self.train_set.images, balanced)
        base = resumed[1]["config"] if resumed else _starting_config(cfg)
        head = cfg.head or base.get("head")
        model = _build_model(cfg, self.hooks.config_from_data({"head": head}, sample), base)
        if resumed:
            weights = load_model(resumed[0], device="cpu", backbone_weights=cfg.backbone_weights)
            model.load_state_dict(weights.state_dict())
        elif cfg.init_from:
            _init_from(model, cfg)
        return model

    def _optimizer(self, resumed) -> None:
        """AdamW over the hooks' parameter groups, warm-up then cosine; a resumed run's state."""
        cfg = self.cfg
        groups = self.hooks.param_groups(self.model, cfg.lr)
        self.opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.steps_per_epoch = math.ceil(
            dataset.epoch_size(self.train_set, cfg.max_per_source) / cfg.batch_size
        )
        total = self.steps_per_epoch * cfg.epochs
        if resumed:
            path, header, tensors = resumed
            try:
                _restore_optimizer(self.opt, tensors, header["meta"]["optimizer"])
                torch.set_rng_state(tensors["extra/torch_rng"])
            except (ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise UsageError(
                    f"{path}: not a resumable checkpoint: its optimizer state does not fit ({exc})"
                ) from None
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: _lr_factor(s, total, cfg.warmup), last_epoch=self.state.step - 1
        )

    def _validation_data(self) -> None:
        """The validation crops, and the loss of predicting a=b=0 on them: what the model must beat."""
        self.val_l, self.val_ab = (
            dataset.validation_arrays(self.val_set.images, self.cfg.crop_size, self.norm)
            if len(self.val_set)
            else (None, None)
        )
        self.gray_val = float(np.mean(self.val_ab**2)) if self.val_ab is not None else None

    @property
    def loss_name(self) -> str:
        return "cross-entropy over ab classes" if self.classes else "MSE on normalised ab"

    def forward(
        self, lum: torch.Tensor, cond, logits: bool = False, training: bool = False, hints=None
    ) -> torch.Tensor:
        module = self.net if training else self.model  # DDP's wrapper where gradients are synchronised
        lum = lum.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        extra = {"logits": True} if logits else {}
        if hints is not None:
            extra["hints"] = hints.to(self.device, non_blocking=True)
        if torch.is_tensor(cond):
            cond = cond.to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            pred = module(lum, cond, **extra) if cond is not None else module(lum, **extra)
        return pred.float()

    def loss(
        self, lum: torch.Tensor, cond, ab: torch.Tensor, training: bool = False, hints=None
    ) -> torch.Tensor:
        """Per-pixel loss of a batch: squared ab error, or the classes head's cross-entropy."""
        if self.classes:
            return class_loss(
                self.forward(lum, cond, True, training, hints), ab, self.norm.ab_scale, self.bin_weights
            )
        err = (self.forward(lum, cond, training=training, hints=hints) - ab).pow(2).mean(1)
        return err if self.bin_weights is None else err * self.bin_weights[grid_cell(ab, self.norm.ab_scale)]

    def validate(self) -> dict[str, float | None]:
        """Validation scores of the automatic colour (no hints): the loss (the training loss,
        unweighted), the MSE of the predicted ab, and the mean CIEDE2000 of the decoded colour
        (the model's own decoding, so a fixed one through a run); for a model that takes hints,
        also the loss with random hints (the same ones at every validation)."""
        scores: dict[str, float | None] = {"loss": None, "mse": None, "ciede2000": None}
        if self.val_l is None:
            return scores
        self.model.eval()
        sums = {"loss": 0.0, "mse": 0.0, "ciede2000": 0.0, "loss_hints": 0.0}
        with torch.no_grad():
            for s in range(0, len(self.val_l), 32):
                rows = np.arange(s, min(s + 32, len(self.val_l)))
                cond = self.hooks.condition(rows, None, val=True)
                lum, ab = (
                    torch.from_numpy(self.val_l[rows]),
                    torch.from_numpy(self.val_ab[rows]).to(self.device),
                )
                pred = self.forward(lum, cond)
                sums["mse"] += F.mse_loss(pred, ab).item() * len(lum)
                sums["ciede2000"] += _ciede2000(lum, pred.cpu(), ab.cpu(), self.norm) * len(lum)
                if self.classes:
                    sums["loss"] += self.loss(lum, cond, ab).mean().item() * len(lum)
                rng = np.random.default_rng([self.cfg.seed, VALIDATION_HINTS_KEY, s])
                hints = self.hooks.hints(self.model, self.val_ab[rows], rng)
                if hints is not None:
                    hinted = self.loss(lum, cond, ab, hints=torch.from_numpy(hints))
                    sums["loss_hints"] += hinted.mean().item() * len(lum)
        self.model.train()
        n = len(self.val_l)
        scores = {k: v / n for k, v in sums.items()}
        scores["loss"] = scores["loss"] if self.classes else scores["mse"]
        if not getattr(self.model.config, "hint_inputs", False):
            del scores["loss_hints"]
        return scores

    def make_batch(self, epoch: int, k: int, order: np.ndarray):
        """This process's share of global batch ``k`` of ``epoch``, and the global batch's size.

        The augmentation of every image of the global batch is drawn, then sharded, so that any
        number of processes trains on exactly the batches one process would.
        """
        cfg = self.cfg
        idx = order[k * cfg.batch_size : (k + 1) * cfg.batch_size]
        rng = np.random.default_rng([cfg.seed, epoch, k])
        mine = self.procs.shard(len(idx))
        lum, ab, flips = dataset.training_batch(self.train_set.images, idx, cfg.crop_size, rng, self.norm)
        cond = self.hooks.condition(idx[mine], flips[mine].astype(int))
        hints = self.hooks.hints(self.model, ab, rng)
        hints = None if hints is None else torch.from_numpy(hints[mine])
        return torch.from_numpy(lum[mine]), torch.from_numpy(ab[mine]), cond, hints, len(idx)

    def save_last(self) -> None:
        if not self.procs.main:
            return
        opt_tensors, opt_info = _optimizer_tensors(self.opt)
        extra = {**opt_tensors, "torch_rng": torch.get_rng_state()}
        meta = {**self.meta, "train_state": asdict(self.state), "optimizer": opt_info}
        self.save(self.paths["last"], meta, extra)

    def save(self, path: Path, meta: dict, extra: dict | None = None) -> None:
        """Write a checkpoint; a write that fails (disk full, file too large) stops the run with
        one line, and the file of that name saved before stays as it was (writes are atomic)."""
        try:
            save_checkpoint(self.model, path, self.norm, meta, extra)
        except OSError as exc:
            last = self.paths["last"]
            kept = f"; {last}, the resumable checkpoint saved before, is kept" if last.exists() else ""
            raise BwcolorError(f"cannot save {path}: {exc.strerror or exc}{kept}") from None

    def step(self, lum, ab, cond, n: int, hints=None) -> float:
        """One optimisation step on this process's share of a global batch of ``n``; returns
        the global batch's summed loss."""
        mean = self.loss(lum, cond, ab.to(self.device), training=True, hints=hints).mean()
        (batch_sum,) = self.procs.sum(mean.item() * len(lum))
        if not math.isfinite(batch_sum):  # before the step: the weights stay as they were
            self.diverged(f"in epoch {self.state.epoch + 1}, batch {self.state.batch + 1}")
        # Weighted so that DDP's average of the processes' gradients is the gradient of the
        # global batch's mean loss, whatever the shard sizes.
        loss = mean * (len(lum) * self.procs.world / n)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        return batch_sum

    def diverged(self, where: str):
        last = self.paths["last"]
        raise TrainingDiverged(where, last if last.exists() else None)

    def run_epoch(self, pool: ThreadPoolExecutor) -> None:
        """The rest of the epoch in progress (all of it, unless resumed mid-epoch), with a
        resumable checkpoint every ``checkpoint_minutes``; Ctrl-C or SIGTERM save one and stop."""
        cfg, state = self.cfg, self.state
        epoch, ahead = state.epoch, cfg.workers + 1
        order = dataset.epoch_indices(self.train_set, cfg.seed, epoch, cfg.max_per_source)
        self.emit(
            "epoch_start", epoch=epoch, epochs=cfg.epochs, batches=self.steps_per_epoch, done=state.batch
        )
        pending = {
            k: pool.submit(self.make_batch, epoch, k, order)
            for k in range(state.batch, min(self.steps_per_epoch, state.batch + ahead))
        }
        t0, seen_before, saved_at = time.perf_counter(), state.epoch_images, time.monotonic()
        try:
            while state.batch < self.steps_per_epoch:
                k = state.batch
                lum, ab, cond, hints, n = pending.pop(k).result()
                if k + ahead < self.steps_per_epoch:
                    pending[k + ahead] = pool.submit(self.make_batch, epoch, k + ahead, order)
                batch_sum = self.step(lum, ab, cond, n, hints)
                state.batch, state.step = k + 1, state.step + 1
                state.epoch_loss += batch_sum
                state.epoch_images += n
                elapsed = time.perf_counter() - t0
                rate = (state.epoch_images - seen_before) / elapsed if elapsed else 0.0
                self.emit("batch", loss=batch_sum / n, images_per_second=rate)
                if (
                    time.monotonic() - saved_at >= cfg.checkpoint_minutes * 60
                    and state.batch < self.steps_per_epoch
                ):
                    t0, seen_before = _add_time(state, t0), state.epoch_images
                    self.save_last()
                    saved_at = time.monotonic()
                    self.emit("checkpoint", path=self.paths["last"])
        except (KeyboardInterrupt, _Terminated) as stop:
            for f in pending.values():
                f.cancel()
            _add_time(state, t0)
            self.save_last()
            raise TrainingInterrupted(self.paths["last"], _signal_of(stop)) from None
        _add_time(state, t0)

    def end_epoch(self) -> bool:
        """Validate, log, keep the best checkpoint and save the resumable one; whether to go on."""
        state = self.state
        scores = self.validate()
        val_loss = scores["loss"]
        seen_before = state.history[-1].get("images", 0) if state.history else 0
        record = {
            "epoch": state.epoch + 1,
            "images": seen_before + state.epoch_images,
            "train_loss": state.epoch_loss / max(1, state.epoch_images),
            "val_loss": val_loss,
            "val_mse": scores["mse"],
            "val_ciede2000": scores["ciede2000"],
            **({"val_loss_hints": scores["loss_hints"]} if "loss_hints" in scores else {}),
            "gray_val_mse": self.gray_val,
            "lr": self.opt.param_groups[0]["lr"],
            "seconds": round(state.epoch_seconds, 2),
            "images_per_second": round(state.epoch_images / state.epoch_seconds, 2)
            if state.epoch_seconds
            else None,
        }
        state.history.append(record)
        if self.procs.main:
            write_log(self.paths["log"], state.history)
        score = val_loss if val_loss is not None else record["train_loss"]
        if not math.isfinite(score):
            self.diverged(f"in validation after epoch {state.epoch + 1}")
        improved = score < state.best_val
        state.epoch, state.batch, state.epoch_loss, state.epoch_images = state.epoch + 1, 0, 0.0, 0
        state.epoch_seconds = 0.0
        if improved:
            state.best_val = score
            if self.procs.main:
                meta = {
                    **self.meta,
                    "metrics": record,
                    "epochs_trained": state.epoch,
                    "seconds": round(state.seconds, 1),
                }
                self.save(self.paths["best"], meta)
        self.save_last()
        self.emit("epoch_end", record=record, improved=improved)
        if self.cfg.patience and _epochs_since_best(state.history) >= self.cfg.patience:
            self.emit("early_stop", epoch=state.epoch, patience=self.cfg.patience)
            return False
        return True


def train(
    config: TrainConfig | None = None,
    resume: str | Path | None = None,
    on_event: Callable[..., None] | None = None,
    **overrides: Any,
) -> dict:
    """Train a model; returns a summary (paths, best validation loss, history).

    Give a :class:`TrainConfig` (or its fields as keyword arguments), or ``resume`` with the
    path of a ``*.last.safetensors`` checkpoint to continue exactly where it stopped
    (:data:`RESUMABLE_OPTIONS` may be changed on resume: a larger ``epochs`` extends the run).
    ``on_event(kind, **info)`` reports progress (phases, batches, epochs, checkpoints).
    """
    cfg, state, resumed = _start(config, resume, overrides)
    cfg.check()
    cfg.check_files()
    with _sigterm_as_interrupt():
        try:
            run = Trainer(cfg, state, resumed, on_event or (lambda *a, **k: None))
        except (KeyboardInterrupt, _Terminated) as stop:
            path = Path(resume) if resume is not None else None
            raise TrainingInterrupted(path, _signal_of(stop), saved=False) from None
        log = run.paths["log"]
        if run.procs.main:
            # a new run starts a new log; a resumed one, the log as of its checkpoint (which drops
            # an epoch logged after it: killed before saving)
            write_log(log, state.history)
        run.model.train()
        try:
            with ThreadPoolExecutor(max(1, cfg.workers), "bwcolor-augment") as pool:
                while state.epoch < cfg.epochs:
                    run.run_epoch(pool)  # saves a checkpoint itself when stopped in an epoch
                    if not run.end_epoch():
                        break
        except (KeyboardInterrupt, _Terminated) as stop:  # in validation or saving, between epochs
            last = run.paths["last"]
            raise TrainingInterrupted(
                last if last.exists() else None, _signal_of(stop), saved=False
            ) from None
    run.procs.close()
    plot = _plot(state.history, run.paths["plot"], run.gray_val, run.classes) if run.procs.main else None
    return {
        "best": str(run.paths["best"]),
        "last": str(run.paths["last"]),
        "log": str(log),
        "plot": str(plot) if plot else None,
        "best_val_loss": state.best_val,
        "gray_val_loss": run.gray_val,
        "history": state.history,
        "data": run.data.to_dict(),
        "seconds": state.seconds,
        "loss_name": run.loss_name,
    }


def _ciede2000(lum: torch.Tensor, pred: torch.Tensor, ab: torch.Tensor, norm: Normalisation) -> float:
    """Mean CIEDE2000 between predicted and true normalised ab over a batch of crops, both shown
    as sRGB (out-of-gamut colour clipped, as an output file would be)."""
    from bwcolor import lab, metrics

    lightness = ((lum.numpy()[:, 0] + norm.l_offset) * norm.l_scale).astype(np.float32)
    total = 0.0
    for i, light in enumerate(lightness):
        shown = []
        for colour in (pred[i].numpy(), ab[i].numpy()):
            lab_image = np.dstack([light, *(colour * norm.ab_scale)])
            shown.append(lab.rgb_to_lab(lab.lab_to_rgb(lab_image)))
        total += float(metrics.ciede2000(*shown).mean())
    return total / len(lightness)


def _add_time(state: TrainState, t0: float) -> float:
    """Count the time since ``t0`` as training time; returns the new ``t0``."""
    now = time.perf_counter()
    state.seconds += now - t0
    state.epoch_seconds += now - t0
    return now


def _epochs_since_best(history: list[dict]) -> int:
    scores = [h["val_loss"] if h["val_loss"] is not None else h["train_loss"] for h in history]
    return len(scores) - 1 - int(np.argmin(scores))


def _plot(history: list[dict], path: Path, gray_loss: float | None = None, classes: bool = False) -> Path:
    """Loss curves as a PNG, with the gray baseline's MSE if known.

    For the classes head, a second panel shows the validation MSE of the decoded ab.
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's matplotlib backend is left alone
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(11 if classes else 6, 4), dpi=100)
    axes = fig.subplots(1, 2 if classes else 1, squeeze=False)
    ax = axes[0, 0]
    ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train")
    if any(h["val_loss"] is not None for h in history):
        ax.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation")
    ax.set_ylabel("cross-entropy over ab classes" if classes else "MSE on normalised ab")
    if classes:
        ax_mse = axes[0, 1]
        ax_mse.plot(
            epochs, [h.get("val_mse") for h in history], marker="o", label="validation, annealed mean"
        )
        ax_mse.set_ylabel("MSE on normalised ab")
    else:
        ax_mse = ax
    if gray_loss is not None:
        ax_mse.axhline(gray_loss, color="gray", linestyle="--", label="validation, gray (a=b=0)")
    for a in axes[0]:
        a.set_xlabel("epoch")
        a.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.2
        a.grid(alpha=0.3)
        a.legend()
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png"), durable=False)  # never through a link
    return path
