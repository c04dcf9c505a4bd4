"""What a checkpoint says about itself, read from its header alone (no weights loaded): the
model and its settings, how it was trained and scored, and what each shipped model is for.
Behind ``bwcolor models`` and ``bwcolor info``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bwcolor.errors import ModelError
from bwcolor.models.decoding import DECODING
from bwcolor.shipped import DEFAULT_MODEL, SHIPPED_MODELS, weights_dir

#: What each shipped model is for, in a line.
PURPOSE = {
    "effnet_unet": "the default: ImageNet EfficientNet-Lite0 encoder and U-Net decoder over 268 colour "
    "classes; the most natural colour",
    "fusion": "the paper's fusion network (Deep Koalarization, EfficientNet-Lite0 embedding); MSE: muted, "
    "sepia-like colour",
    "baseline": "the paper's 8-layer CNN; smallest and fastest, sepia-like colour",
}


def _header(path: Path) -> tuple[dict[str, Any], int]:
    """The decoded header of the checkpoint at ``path`` and its number of stored values."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
            values = sum(
                math.prod(f.get_slice(k).get_shape()) for k in f.keys() if not k.startswith("extra/")
            )
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one line
        raise ModelError(f"{path}: not a bwcolor checkpoint ({exc})") from None
    if "model" not in raw:
        raise ModelError(f"{path}: a safetensors file, but not a bwcolor checkpoint (no bwcolor header)")
    header = {"model": raw["model"]}
    for key in ("config", "meta"):
        try:
            header[key] = json.loads(raw.get(key, "{}"))
        except (ValueError, RecursionError):
            header[key] = {}
    return header, values


def describe(name_or_path: str | Path) -> dict[str, Any]:
    """A checkpoint's (or a shipped model's) header, summarised: model, file, size, stored
    parameters, render size, decoding, training (command, data, epochs, time) and scores."""
    from bwcolor.models.checkpoint import resolve_model_path

    path = resolve_model_path(name_or_path)
    header, values = _header(path)
    config, meta = header["config"], header["meta"]
    metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
    data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    return {
        "model": header["model"],
        "file": str(path),
        "megabytes": round(path.stat().st_size / 1e6, 1),
        "stored_parameters": values,
        "render_size": config.get("render_size"),
        "decoding": {k: config[k] for k in DECODING if k in config},
        "hint_inputs": bool(config.get("hint_inputs", False)),
        "trained_on": {k: data[k] for k in ("train", "val", "found") if k in data},
        "epochs": meta.get("epochs_trained"),
        "training_seconds": meta.get("seconds"),
        "command": meta.get("command"),
        "validation": {
            k: metrics[k] for k in ("val_loss", "val_mse", "val_ciede2000") if metrics.get(k) is not None
        },
    }


def shipped_models() -> list[dict[str, Any]]:
    """Every shipped model that has weights here, described, with what it is for."""
    out = []
    for name in SHIPPED_MODELS:
        if (weights_dir() / f"{name}.safetensors").is_file():
            out.append({"name": name, "default": name == DEFAULT_MODEL, "purpose": PURPOSE.get(name, ""),
                        **describe(name)})  # fmt: skip
    return out
