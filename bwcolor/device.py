"""Choosing the compute device: ``auto`` takes a GPU when there is one."""

from __future__ import annotations

import os
import platform

import numpy as np
import torch

from bwcolor.errors import UsageError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
#: The arithmetic of each precision's forward pass (fp16, bf16: autocast, float32 weights).
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


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


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` -> fp32 everywhere: on an H200, fp16 kept the output (within 0.6 Lab units) and
    made the forward pass 15-30% faster at large batches, but not the whole pipeline, which the
    CPU work limits (docs/benchmarks.md). fp16 and bf16 run the forward pass under autocast
    (weights stay float32); a CPU takes bf16 only (slower than fp32 there, but asked for).
    """
    name = name.lower()
    if name not in PRECISIONS:
        raise UsageError(f"unknown precision {name!r}; choose from {', '.join(PRECISIONS)}")
    if name == "auto":
        return "fp32"
    if name == "fp16" and device.type == "cpu":
        raise UsageError("--precision fp16: not supported on a CPU (use fp32 or bf16)")
    return name


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes in bf16 natively: a GPU, or a CPU with AMX or AVX-512 BF16
    (on other CPUs bf16 is emulated, slower than fp32)."""
    if device.type != "cpu":
        return device.type == "cuda"
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # a torch without these probes
        return False


def autocast(precision: str, device: torch.device):
    """The context a forward pass at ``precision`` runs in (autocast; none for fp32)."""
    return torch.autocast(device.type, DTYPES[precision], enabled=precision != "fp32")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict:
    """The machine and library versions, recorded with every measurement and training run."""
    import cv2

    from bwcolor import __version__

    env = {
        "device": str(device),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "bwcolor": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env
