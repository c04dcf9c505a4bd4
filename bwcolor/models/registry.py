"""The model registry: every network is registered under its name by a class decorator in its
own file, and built by that name with its config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from torch import nn

_REGISTRY: dict[str, type[nn.Module]] = {}


def register_model(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make a network buildable by ``create_model(name)``.

    The class must have a dataclass ``Config`` and take it as its only constructor argument.
    """

    def wrap(cls: type[nn.Module]) -> type[nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        cls.model_name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_class(name: str) -> type[nn.Module]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(list_models())}") from None


def create_model(name: str, **config: Any) -> nn.Module:
    """Build the network ``name`` with its default config, overridden by ``config``."""
    cls = model_class(name)
    known = {f.name for f in fields(cls.Config)}
    unknown = set(config) - known
    if unknown:
        raise TypeError(
            f"unknown option(s) for model {name!r}: {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(known))}"
        )
    return cls(cls.Config(**config))


def set_normalisation(model: nn.Module, norm) -> None:
    """Make ``norm`` (a :class:`bwcolor.lab.Normalisation`, e.g. a checkpoint's) the model's one
    source of truth: its inputs and outputs, and every part that converts them (the classifier's
    gray image, the colour classes' ab scale), follow it."""
    model.normalisation = norm
    for module in model.modules():
        if hasattr(module, "use_normalisation"):
            module.use_normalisation(norm)
