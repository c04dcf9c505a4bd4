"""What a model asks of training beyond L and ab: its training hooks.

The training loop (:mod:`bwcolor.training.trainer`) knows nothing of particular models. A model class
names its hooks as ``training_hooks`` (a subclass of :class:`TrainingHooks`, defined next to the
model); this base class is the default, for models that need nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch


class TrainingHooks:
    """The defaults: no config learnt from the data, nothing cached, no conditioning."""

    def __init__(self, emit: Callable[..., None] | None = None):
        self.emit = emit or (lambda *a, **k: None)

    def config_from_data(self, config: Any, images) -> dict[str, Any]:
        """Config options the training photos decide (e.g. their colour frequencies), given the
        run's model config (before the model is built) and its training images."""
        return {}

    def param_groups(self, model: torch.nn.Module, lr: float) -> list[dict[str, Any]]:
        """The optimizer's parameter groups: every trainable weight at the run's learning rate."""
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr}]

    def prepare(
        self, model: torch.nn.Module, train_set, val_set, cache_dir: Path, image_size: int, rows: np.ndarray
    ) -> None:
        """Anything to compute once per run before the first batch (e.g. a frozen network's
        outputs, cached on disk). ``rows``: the training images the run's epochs draw (with
        ``--max-per-source``, fewer than all of ``train_set``); only those reach :meth:`condition`."""

    def condition(self, rows: np.ndarray, flips: np.ndarray | None, val: bool = False) -> torch.Tensor | None:
        """What the model's forward pass takes besides L for these images (``flips``: which
        crops were mirrored), or None."""
        return None

    def hints(self, model: torch.nn.Module, ab: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """Colour hints for a batch of crops whose true normalised ab is ``ab`` (B, 2, H, W),
        drawn with ``rng``, for models that take them (see :mod:`bwcolor.models.hints`); or None."""
        return None
