"""What a resumable checkpoint (``*.last.safetensors``) holds beyond the weights, and the check
that every field of it is what ``bwcolor train --resume`` can continue from.

A resumable checkpoint's ``meta`` holds ``train_config`` (the run's options), ``train_state``
(:class:`TrainState`: where the run is), and ``optimizer`` (the optimizer's settings and scalar
state; its tensors are ``extra/optim/...``); ``extra/torch_rng`` is the random generator's state.
A file edited or damaged by hand is refused field by field, never half-loaded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

import torch


@dataclass
class TrainState:
    epoch: int = 0  # the epoch in progress (0-based)
    batch: int = 0  # the next batch of that epoch
    step: int = 0
    best_val: float = math.inf
    seconds: float = 0.0
    epoch_loss: float = 0.0  # loss summed over the images of the epoch in progress
    epoch_images: int = 0
    epoch_seconds: float = 0.0  # training time of the epoch in progress, over all its sessions
    history: list[dict] = field(default_factory=list)


#: Optimizer tensors: extra/optim/<parameter index>/<name>.
_OPTIM_TENSOR = re.compile(r"extra/optim/\d+/\w+")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def state_problem(state: Any) -> str | None:
    """What is wrong with a saved ``train_state``, or None."""
    if not isinstance(state, dict):
        return "train_state is not a JSON object"
    known = {f.name for f in fields(TrainState)}
    unknown = sorted(set(state) - known)
    if unknown:
        return f"train_state has unknown field(s) {', '.join(unknown)}"
    missing = sorted(known - set(state))
    if missing:
        return f"train_state lacks {', '.join(missing)}"
    for name in ("epoch", "batch", "step", "epoch_images"):
        if not _is_int(state[name]) or state[name] < 0:
            return f"train_state {name}={state[name]!r} is not a whole number of at least 0"
    for name in ("seconds", "epoch_seconds", "epoch_loss"):
        if not _is_number(state[name]) or not 0 <= state[name] < math.inf:
            return f"train_state {name}={state[name]!r} is not a finite number of at least 0"
    if not _is_number(state["best_val"]) or math.isnan(state["best_val"]):
        return f"train_state best_val={state['best_val']!r} is not a number"
    history = state["history"]
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        return "train_state history is not a list of epoch records"
    if len(history) != state["epoch"]:
        return f"train_state history holds {len(history)} epochs, but epoch is {state['epoch']}"
    return None


def optimizer_problem(info: Any, tensors: dict[str, torch.Tensor]) -> str | None:
    """What is wrong with the saved optimizer state, or None."""
    if (
        not isinstance(info, dict)
        or not isinstance(info.get("param_groups"), list)
        or not info["param_groups"]
    ):
        return "no optimizer settings (param_groups)"
    if not all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in info["param_groups"]):
        return "optimizer param_groups are not lists of parameters"
    scalars = info.get("scalars")
    if not isinstance(scalars, dict):
        return "no optimizer scalars"
    for name, value in scalars.items():
        if not re.fullmatch(r"\d+/\w+", name) or not _is_number(value):
            return f"optimizer scalar {name!r}={value!r} is not a number of a parameter"
    odd = [k for k in tensors if k.startswith("extra/optim/") and not _OPTIM_TENSOR.fullmatch(k)]
    if odd:
        return f"optimizer tensor {odd[0]!r} is not named extra/optim/<index>/<name>"
    return None


def resume_problem(meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str | None:
    """What keeps a checkpoint from being resumed (every field checked), or None."""
    if not isinstance(meta.get("train_config"), dict) or not meta["train_config"]:
        return "no run settings (train_config)"
    problem = state_problem(meta.get("train_state")) or optimizer_problem(meta.get("optimizer"), tensors)
    if problem:
        return problem
    rng = tensors.get("extra/torch_rng")
    if rng is None or rng.dtype != torch.uint8 or rng.dim() != 1:
        return "no random generator state (extra/torch_rng)"
    return None
