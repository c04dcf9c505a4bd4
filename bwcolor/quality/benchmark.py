"""Speed, memory and size of models, measured the same way for each (``bwcolor benchmark``).

* Model-only: milliseconds per image for the network's forward pass at the render shape of a
  3:2 photo, after a warm-up, median of repeats, for each batch size.
* End to end: images per second of the real ``bwcolor colorize`` pipeline (decode, Lab, resize,
  network, merge, encode, atomic write) on the benchmark images, median of repeats.
* Peak memory: the process's resident set size, sampled while each model runs (on CUDA also the
  maximum allocated by torch); parameters; GFLOPs per image (``torch.utils.flop_counter``).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from bwcolor import lab
from bwcolor.device import autocast
from bwcolor.image.colorize import model_device, precision_of, render_size_of
from bwcolor.pipeline.jobs import Job, Options
from bwcolor.pipeline.photos import run_jobs


def rss_bytes() -> int:
    """Current resident set size of this process."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRSS:
    """Samples RSS in a thread while the block runs; ``peak`` is the highest value seen."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


#: Repeats whose slowest is more than this times the fastest are not to be trusted.
SPREAD_LIMIT = 1.5


def load_average() -> float:
    """The 1-minute load average (0 where the system does not say)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def speed_warnings(result: SpeedResult) -> list[str]:
    """Why a model's timings may mislead: a busy machine, or repeats far apart."""
    out = []
    cores = os.cpu_count() or 1
    if result.load_average > cores:
        out.append(
            f"{result.model}: the machine was busy (load average {result.load_average:.1f} on {cores} cores): "
            "timings are slower than the model is"
        )
    spans = [*result.model_ms_range.values(), *result.end_to_end_range.values()]
    worst = max((high / low for low, high in spans if low > 0), default=1.0)
    if worst > SPREAD_LIMIT:
        out.append(
            f"{result.model}: repeats differ up to {worst:.1f}x: rerun on a quiet machine, or with more --repeats"
        )
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_parameters(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"parameters": total, "trainable_parameters": trainable}


def gflops_per_image(model: nn.Module, shape: tuple[int, int]) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 1, *shape, device=model_device(model))
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(x)
    return counter.get_total_flops() / 1e9


def time_forward(
    model: nn.Module, shape: tuple[int, int], batch: int, repeats: int, warmup: int = 2
) -> float:
    """Median milliseconds per image of the forward pass on a batch of ``batch``."""
    return statistics.median(forward_samples(model, shape, batch, repeats, warmup))


def forward_samples(
    model: nn.Module, shape: tuple[int, int], batch: int, repeats: int, warmup: int = 2
) -> list[float]:
    """Milliseconds per image of each timed forward pass on a batch of ``batch``."""
    device = model_device(model)
    x = torch.rand(batch, 1, *shape, device=device).mul_(2).sub_(1)
    x = x.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode(), autocast(precision_of(model), device):
        for i in range(warmup + repeats):
            _sync(device)
            t0 = time.perf_counter()
            model(x)
            _sync(device)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000 / batch)
    return times


def time_end_to_end(
    model: nn.Module, paths: list[Path], batch: int, repeats: int, workers: int | None = None
) -> float:
    """Median images per second of the colorize pipeline over ``paths`` (outputs discarded).

    ``workers``: decoding and encoding threads; default: ``bwcolor colorize``'s on this device.
    """
    return statistics.median(end_to_end_samples(model, paths, batch, repeats, workers))


def end_to_end_samples(
    model: nn.Module, paths: list[Path], batch: int, repeats: int, workers: int | None = None
) -> list[float]:
    """Images per second of each of ``repeats`` runs of the colorize pipeline over ``paths``."""
    rates = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bwcolor-bench-") as tmp:
            jobs = [Job(p, Path(tmp) / f"{i:05d}{p.suffix}") for i, p in enumerate(paths)]
            summary = run_jobs(
                jobs, model, Options(Path(tmp), batch_size=batch, workers=workers, overwrite=True)
            )
            rates.append(summary.images_per_second)
    return rates


@dataclass
class SpeedResult:
    model: str
    render_shape: tuple[int, int]
    parameters: int
    trainable_parameters: int
    gflops_per_image: float
    model_ms_per_image: dict[int, float] = field(default_factory=dict)
    end_to_end_images_per_second: dict[int, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    cuda_max_allocated_mb: float | None = None
    model_ms_range: dict[int, tuple[float, float]] = field(default_factory=dict)  # min, max of the repeats
    end_to_end_range: dict[int, tuple[float, float]] = field(default_factory=dict)
    load_average: float = 0.0  # the highest 1-minute load average seen while measuring
    warnings: list[str] = field(default_factory=list)

    def gflops_per_second(self, batch: int) -> float:
        """Floating-point throughput of the forward pass at ``batch``."""
        return self.gflops_per_image / (self.model_ms_per_image[batch] / 1000)

    def end_to_end_share(self, batch: int) -> float:
        """End-to-end images per second as a fraction of the model-only rate, at ``batch``."""
        return self.end_to_end_images_per_second[batch] * self.model_ms_per_image[batch] / 1000


def measure(
    name: str,
    model: nn.Module,
    paths: list[Path],
    batch_sizes: list[int],
    repeats: int,
    on_step: Callable[[str], None] | None = None,
) -> SpeedResult:
    step = on_step or (lambda s: None)
    device = model_device(model)
    shape = lab.render_shape(512, 768, render_size_of(model))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    result = SpeedResult(
        name, shape, **count_parameters(model), gflops_per_image=gflops_per_image(model, shape)
    )
    with PeakRSS() as peak:
        for b in batch_sizes:
            step(f"{name}: model-only, batch {b}")
            result.load_average = max(result.load_average, load_average())
            times = forward_samples(model, shape, b, repeats)
            result.model_ms_per_image[b] = statistics.median(times)
            result.model_ms_range[b] = (min(times), max(times))
        for b in batch_sizes:
            step(f"{name}: end to end, batch {b}")
            result.load_average = max(result.load_average, load_average())
            rates = end_to_end_samples(model, paths, b, repeats)
            result.end_to_end_images_per_second[b] = statistics.median(rates)
            result.end_to_end_range[b] = (min(rates), max(rates))
    result.peak_rss_mb = peak.peak / 2**20
    result.warnings = speed_warnings(result)
    if device.type == "cuda":
        result.cuda_max_allocated_mb = torch.cuda.max_memory_allocated(device) / 2**20
    return result
