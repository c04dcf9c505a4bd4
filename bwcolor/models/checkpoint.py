"""The one checkpoint format: a safetensors file whose header holds the model's name and config.

Loading never executes code from the file (safetensors holds only tensors and strings). A
pickled PyTorch file (``torch.save``) is refused with an explanation.

Header metadata (all strings): ``bwcolor`` (format version), ``model`` (registry name),
``config`` (JSON), ``normalisation`` (JSON), ``meta`` (JSON: training details, free-form).
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import save
from torch import nn

from bwcolor.device import resolve_precision
from bwcolor.errors import ModelError
from bwcolor.files.atomic import write_atomic
from bwcolor.lab import MAX_RENDER_SIZE, Normalisation
from bwcolor.models.registry import create_model, list_models, set_normalisation
from bwcolor.shipped import WEIGHTS_ENV, weights_dir  # noqa: F401 - also this module's interface

FORMAT_VERSION = "1"
SUFFIX = ".safetensors"
#: Models that have no weights to load.
UNTRAINED = ("gray",)


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors a checkpoint holds (frozen pretrained backbones are left out)."""
    getter = getattr(model, "trainable_state_dict", None)
    state = getter() if getter else model.state_dict()
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()}


def save_checkpoint(
    model: nn.Module,
    path: str | Path,
    normalisation: Normalisation | None = None,
    meta: dict[str, Any] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write ``model`` (and optional extra tensors, e.g. optimizer state) atomically to ``path``."""
    path = Path(path)
    normalisation = normalisation or getattr(model, "normalisation", None) or Normalisation()
    tensors = model_state(model)
    for key, value in (extra_tensors or {}).items():
        tensors[f"extra/{key}"] = value.detach().to("cpu").contiguous()
    header = {
        "bwcolor": FORMAT_VERSION,
        "model": model.model_name,
        "config": json.dumps(asdict(model.config)),
        "normalisation": json.dumps(normalisation.to_dict()),
        "meta": json.dumps(meta or {}),
    }
    write_atomic(path, save(tensors, metadata=header))
    return path


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a checkpoint's header (decoded JSON) and tensors; :class:`ModelError` if invalid."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: checkpoint not found")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, struct.error, ValueError) as exc:
        with open(path, "rb") as f:
            head = f.read(2)
        if head == b"PK" or (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5):
            raise ModelError(
                f"{path}: a pickled PyTorch file is refused, because loading a pickle can run code; "
                "bwcolor checkpoints are .safetensors files written by bwcolor train"
            ) from None
        raise ModelError(f"{path}: not a valid checkpoint or truncated ({exc})") from None
    if raw.get("bwcolor") != FORMAT_VERSION or "model" not in raw:
        raise ModelError(f"{path}: a safetensors file, but not a bwcolor checkpoint (no bwcolor header)")
    try:
        header = {
            "bwcolor": raw["bwcolor"],
            "model": raw["model"],
            "config": json.loads(raw.get("config", "{}")),
            "normalisation": json.loads(raw.get("normalisation", "{}")),
            "meta": json.loads(raw.get("meta", "{}")),
        }
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: corrupt checkpoint header ({exc})") from None
    except RecursionError:
        raise ModelError(f"{path}: corrupt checkpoint header (nested too deeply)") from None
    problem = header_problem(header)
    if problem:
        raise ModelError(f"{path}: invalid checkpoint header: {problem}")
    return header, tensors


def is_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a bwcolor checkpoint (its header says so; the weights are not read)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("bwcolor") == FORMAT_VERSION
    except Exception:  # noqa: BLE001 - anything unreadable is not a checkpoint
        return False


def header_problem(header: dict[str, Any]) -> str | None:
    """What is wrong with a checkpoint header (types and ranges of every field), or None."""
    for key in ("config", "normalisation", "meta"):
        if not isinstance(header[key], dict):
            return f"{key} is not a JSON object"
    if header["model"] not in list_models():
        return f"unknown model {header['model']!r} (known: {', '.join(list_models())})"
    if header["normalisation"]:
        try:
            Normalisation.from_dict(header["normalisation"])
        except (KeyError, TypeError, ValueError) as exc:
            return f"normalisation: {exc}"
    return config_problem(header["model"], header["config"])


#: Decoding settings a header may hold: (key, low, high, whether low itself is allowed).
DECODING_RANGES = (("chroma_scale", 0, 4, True), ("hue_boost", 0, 4, True), ("hue_power", 0, 16, False))


def config_problem(model: str, config: dict[str, Any]) -> str | None:
    """A config value of the wrong type or out of range for ``model``'s Config, or None."""
    from dataclasses import MISSING, fields

    from bwcolor.models.registry import model_class

    defaults = {f.name: f.default for f in fields(model_class(model).Config) if f.default is not MISSING}
    for key, value in config.items():
        if key not in defaults:
            continue  # unknown keys: create_model names them
        default = defaults[key]
        expected = type(default) if default is not None else None
        if expected is bool and not isinstance(value, bool):
            return f"config {key}={value!r} is not true or false"
        if expected in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"config {key}={value!r} is not a number"
        if expected is str and not isinstance(value, str):
            return f"config {key}={value!r} is not text"
        if isinstance(value, float) and not math.isfinite(value):
            return f"config {key}={value!r} is not finite"
    size = config.get("render_size")
    if size is not None and (not isinstance(size, int) or not 16 <= size <= MAX_RENDER_SIZE or size % 8):
        return f"config render_size={size!r} is not a multiple of 8 between 16 and {MAX_RENDER_SIZE}"
    prior = config.get("class_prior")
    if prior is not None and not (
        isinstance(prior, list)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf for v in prior)
    ):
        return "config class_prior is not a list of positive numbers"
    temperature = config.get("temperature")
    if temperature is not None and not temperature > 0:
        return f"config temperature={temperature!r} is not positive"
    for key, low, high, low_allowed in DECODING_RANGES:
        value = config.get(key)
        if value is None:
            continue
        if not ((low <= value if low_allowed else low < value) and value <= high):
            return f"config {key}={value!r} is not between {low} and {high}"
    config_class = model_class(model).Config
    if hasattr(config_class, "problem"):  # the model's own ranges, next to its definition
        problem = config_class(**{k: v for k, v in config.items() if k in defaults}).problem()
        if problem:
            return f"config {problem}"
    return None


def is_path_like(name: str) -> bool:
    """A model argument that names a file: it holds a folder separator or ends in .safetensors."""
    return "/" in name or os.sep in name or name.endswith(SUFFIX)


def resolve_model_path(name_or_path: str | Path) -> Path:
    """The checkpoint a model argument means: a shipped model's weights for a model name (even
    when a folder of that name is in the way), else the file it names.

    :class:`ModelError` before any image is read: an unknown name lists the known ones.
    """
    name = str(name_or_path)
    if name in list_models() and not is_path_like(name):
        path = weights_dir() / f"{name}{SUFFIX}"
        if not path.is_file():
            raise ModelError(
                f"no trained weights for model {name!r} (looked for {path}); "
                "train some with 'bwcolor train' and pass the checkpoint's path"
            )
        return path
    path = Path(name_or_path)
    if not is_path_like(name) and not path.is_file():
        known = ", ".join(list_models())
        raise ModelError(f"unknown model {name!r}: use one of {known}, or a checkpoint file (.safetensors)")
    return path


def label_of(name_or_path: str | Path) -> str:
    """How outputs name the model (``name (checkpoint file)``, as ``batch.model_label`` of the
    loaded model), read from the checkpoint's header alone."""
    if str(name_or_path) in UNTRAINED:
        return str(name_or_path)
    path = resolve_model_path(name_or_path)
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            name = (f.metadata() or {}).get("model", "?")
    except Exception:  # noqa: BLE001 - loading the model will say what is wrong
        name = "?"
    return f"{name} ({path.name})"


def load_model(
    name_or_path: str | Path,
    device: str | torch.device = "cpu",
    backbone_weights: str | None = None,
    precision: str = "auto",
) -> nn.Module:
    """Load a trained model, in eval mode on ``device``.

    ``name_or_path`` is a model name (``fusion``, ``baseline``: the shipped weights in
    :func:`weights_dir`; ``gray``: the a=b=0 baseline) or the path of a checkpoint written by
    ``bwcolor train``.
    ``backbone_weights`` names the local ImageNet weights of a backbone that no package ships.
    ``precision`` (fp32, fp16, bf16 or auto) is the arithmetic of its forward pass, kept as
    ``model.precision``.
    """
    path = Path(name_or_path)
    device = torch.device(device)
    precision = resolve_precision(precision, device)  # a wrong one fails before any file is read
    if str(name_or_path) in UNTRAINED:
        model = create_model(str(name_or_path))
        model.precision = precision
        return model.to(device).eval()
    path = resolve_model_path(name_or_path)
    header, tensors = read_checkpoint(path)
    config = dict(header["config"])
    if "backbone_weights" in config or backbone_weights is not None:
        # the caller's option only, never a path named by the file (a received checkpoint must
        # not choose which local file is unpickled as backbone weights)
        config["backbone_weights"] = backbone_weights
    try:
        model = create_model(header["model"], **config)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: {exc.args[0] if exc.args else exc}") from None
    except RuntimeError as exc:  # e.g. missing backbone weights
        raise ModelError(str(exc)) from None
    weights = {k: v for k, v in tensors.items() if not k.startswith("extra/")}
    damaged = [k for k, v in weights.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if damaged:
        raise ModelError(f"{path}: damaged weights: {damaged[0]} holds NaN or infinite values")
    expected = model_state(model)
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ModelError(
            f"{path}: weights do not match the {header['model']!r} config "
            f"(missing {len(missing)}, unexpected {len(unexpected)}: "
            f"{', '.join((missing + unexpected)[:3])})"
        )
    for key, value in weights.items():
        if value.shape != expected[key].shape:
            raise ModelError(
                f"{path}: weights do not match the config: {key} has shape "
                f"{tuple(value.shape)}, expected {tuple(expected[key].shape)}"
            )
    model.load_state_dict(weights, strict=False)
    set_normalisation(model, Normalisation.from_dict(header["normalisation"] or Normalisation().to_dict()))
    model.checkpoint = {"path": str(path), "meta": header["meta"]}
    model.precision = precision
    # channels_last: 1.6-1.75x faster convolutions on this project's CPUs (see docs/benchmarks.md)
    return model.to(device).to(memory_format=torch.channels_last).eval()
