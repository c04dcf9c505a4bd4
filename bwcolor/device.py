"""Choosing the compute device: ``auto`` takes a GPU when there is one."""

from __future__ import annotations

import torch

from bwcolor.errors import UsageError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda if available, else mps, else cpu; a named device must be available."""
    name = name.lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA GPU is available (is a CUDA build of torch installed?)")
        return torch.device(name)
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError("--device mps: Apple's MPS backend is not available here")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise UsageError(f"unknown device {name!r}; choose from {', '.join(DEVICES)}")


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
