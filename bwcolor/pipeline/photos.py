"""Colorizing many photos: decode, infer and encode in a pipeline (the jobs come planned, from
:func:`bwcolor.pipeline.jobs.plan`).

Decoding (and the L computation) and encoding (upsampling, merge, write) run in worker threads
while the main thread runs the network on batches of images that share a render shape, so the
CPU or GPU never waits for file I/O. Every output is written atomically; existing outputs are
skipped (unless ``overwrite``), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bwcolor import lab
from bwcolor.errors import ImageError
from bwcolor.files.decode import read_image
from bwcolor.files.encode import write_image
from bwcolor.files.formats import format_of, normalise_format
from bwcolor.files.hints import HintError, Hints, read_hints
from bwcolor.files.metadata import Metadata, fit_metadata
from bwcolor.files.pixels import Picture
from bwcolor.image import colorize as core
from bwcolor.pipeline.jobs import (
    AlreadyColorized,
    AlreadyColour,
    FileResult,
    Job,
    Options,
    Summary,
    colorized_skip,
    model_label,
)
from bwcolor.pipeline.outputs import ALREADY_COLOUR


def default_batch_size(device) -> int:
    """Images per forward pass: 1 on a CPU (fastest there, docs/benchmarks.md), 8 on a GPU."""
    return 1 if device.type == "cpu" else 8


def default_workers(device) -> int:
    """Decoding and encoding threads (each): 2 beside inference on a CPU, which needs the cores;
    more beside a GPU, whose speed the file work must keep up with (docs/benchmarks.md)."""
    if device.type == "cpu":
        return 2
    return max(2, min(8, (os.cpu_count() or 2) // 2))


def inference_plan(device, workers: int) -> tuple[int, int | None]:
    """How a CPU runs the network beside ``workers`` decoding and as many encoding threads:
    (forward passes at once, torch threads); on a GPU (1, None): one at a time, threads as they are.

    Where the file threads leave the network at least half the cores, one forward pass takes
    the rest (16 cores: 12; with all 16, the file threads stalled OpenMP's statically split work
    and the pipeline ran 2-3.8x slower). Where they cannot (2 or 4 cores), two forward passes run
    at once on half the cores each: a file thread taking a core then slows one pass instead of
    stalling both halves of a split one (2 cores: 1.3-1.7x more images per second end to end).
    An explicit OMP_NUM_THREADS is left as it is, with one pass at a time. docs/benchmarks.md.
    """
    if device.type != "cpu" or "OMP_NUM_THREADS" in os.environ:
        return 1, None
    cores = os.cpu_count() or 1
    left = cores - 2 * workers
    if left >= cores / 2:
        return 1, left
    return min(2, cores), max(1, cores // 2)


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Within the block, torch uses ``threads`` threads per forward pass (None: unchanged)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class _Decoded:
    job: Job
    picture: Picture
    had_colour: bool
    net_input: np.ndarray  # the full-resolution L is not kept: a huge scan would hold it meanwhile
    hints: Hints | None = None


def _decode(job: Job, options: Options, render_size: int, norm) -> _Decoded:
    picture = read_image(job.source, options.max_pixels)
    made = picture.metadata.colorized_by()
    if made and not options.include_colorized:
        raise AlreadyColorized(made)
    lum = core.luminance(picture)
    if lum.had_colour and options.colour_inputs == "skip":
        raise AlreadyColour()
    hints = None
    hint_paths = options.hints_for(job.source)
    if hint_paths:
        try:
            hints = read_hints(hint_paths, picture.width, picture.height)
        except HintError as exc:
            raise ImageError(
                f"hint file {exc}; not colorized: correct it, or --no-hints ignores it"
            ) from None
    return _Decoded(job, picture, lum.had_colour, core.network_input(lum.lum, render_size, norm), hints)


def _encode(item: _Decoded, ab: np.ndarray, options: Options, label: str | None, norm) -> FileResult:
    ab = core.with_hints(item.net_input, ab, item.hints, norm)
    pixels = core.colorized_pixels(item.picture, ab, options.saturation)
    fmt = options.fmt or format_of(item.job.output)
    meta = item.picture.metadata
    if label is not None:
        meta = meta.with_provenance(label)
    meta, notes = fit_metadata(meta, normalise_format(fmt))
    try:
        try:
            write_image(item.job.output, pixels, item.picture.alpha, fmt, options.quality, meta)
        except ImageError as exc:  # metadata no check foresaw: the picture wins, with its provenance
            meta = Metadata(provenance=meta.provenance)
            write_image(item.job.output, pixels, item.picture.alpha, fmt, options.quality, meta)
            notes.append(f"metadata could not be written ({exc}): left out but for the provenance tag")
        if options.compare:
            from bwcolor.files.compare import write_compare

            write_compare(item.job.output, item.picture.pixels, pixels, meta.provenance)
    except OSError as exc:
        raise ImageError(f"cannot write {item.job.output}: {exc.strerror or exc}") from None
    return FileResult(
        str(item.job.source),
        "done",
        str(item.job.output),
        had_colour=item.had_colour,
        notes=item.picture.notes + notes,
        hinted=bool(item.hints),
    )


NON_FINITE = "the model predicted NaN or infinite colours (damaged weights?): not written"


def _predict_alone(model: nn.Module, item: _Decoded, batch_error: Exception) -> np.ndarray | ImageError:
    """One image's prediction after its batch's forward pass failed: alone, then at half the
    render size (a smaller forward pass; the colour is merged at full resolution all the same);
    else the error, for this file alone."""
    h, w = item.net_input.shape
    tries = [item.net_input]
    if min(h, w) >= 32:
        tries.append(lab.resize(item.net_input, h // 16 * 8, w // 16 * 8))
    error: Exception = batch_error
    for net_input in tries:
        _release_memory(model)
        try:
            ab = core.predict_ab(model, net_input[None], _hint_channels(model, [item], net_input.shape))[0]
        except Exception as exc:  # noqa: BLE001 - the cause goes into this file's error line
            error = exc
            continue
        if net_input is not item.net_input:
            item.picture.notes.append(
                f"the network failed at {w}x{h}: colorized from {ab.shape[1]}x{ab.shape[0]}"
            )
        return ab
    cause = "out of memory" if "memory" in str(error).lower() else f"{type(error).__name__}: {error}"
    return ImageError(f"the network failed on this image ({cause}); try a smaller --render-size")


def _hint_channels(model: nn.Module, items: list[_Decoded], shape: tuple[int, int]) -> np.ndarray | None:
    """The batch's hint inputs, for a network that takes them and a batch that has some."""
    if not core.takes_hints(model) or not any(it.hints for it in items):
        return None
    return core.hint_channels([it.hints for it in items], *shape, core.normalisation_of(model))


def _release_memory(model: nn.Module) -> None:
    if core.model_device(model).type == "cuda":
        torch.cuda.empty_cache()


def run_jobs(
    jobs: list[Job],
    model: nn.Module,
    options: Options,
    on_result: Callable[[FileResult], None] | None = None,
    summary: Summary | None = None,
    stop: threading.Event | None = None,
) -> Summary:
    """Colorize ``jobs`` with ``model``; ``on_result`` is called once per file as it finishes.

    Results are added to ``summary`` (a new one if None), which stays valid if interrupted.
    Setting ``stop`` (e.g. from a SIGINT handler) ends the run cleanly: the batch being
    inferred is finished and written, nothing new is started; the remaining files are left for
    a rerun.
    """
    summary = summary if summary is not None else Summary()
    run = _PhotoRun(model, options, summary, on_result or (lambda r: None), stop)
    start = time.perf_counter()
    try:
        with (
            torch_threads(run.threads),
            ThreadPoolExecutor(run.workers, "bwcolor-decode") as run.decoders,
            ThreadPoolExecutor(run.streams, "bwcolor-infer") as run.inference,
            ThreadPoolExecutor(run.workers, "bwcolor-encode") as run.encoders,
        ):
            run.run(iter(jobs))
    finally:
        summary.seconds += time.perf_counter() - start
    return summary


class _PhotoRun:
    """One :func:`run_jobs`: decoded images wait in a window, grouped by render shape into
    batches; batches are inferred ``streams`` at a time; outputs are encoded by worker threads
    and settled in the order the jobs came."""

    def __init__(self, model: nn.Module, options: Options, summary: Summary, report, stop):
        self.model, self.options, self.summary, self.report, self.stop = model, options, summary, report, stop
        self.render_size = core.render_size_of(model, options.render_size)
        self.norm = core.normalisation_of(model)
        self.label = model_label(model) if options.provenance else None
        device = core.model_device(model)
        self.workers = options.workers or default_workers(device)
        self.streams, self.threads = inference_plan(device, self.workers)
        self.window = max(2, self.workers * 2 + options.batch_size * self.streams)
        self.decoding: deque[tuple[Job, Future]] = deque()
        self.inferring: deque[tuple[list[_Decoded], Future]] = deque()
        self.encoding: deque[tuple[Job, Future]] = deque()
        self.groups: dict[tuple[int, int], list[_Decoded]] = {}
        self.decoders = self.inference = self.encoders = None  # the thread pools, set by run_jobs

    def settle(self, result: FileResult) -> None:
        self.summary.add(result)
        self.report(result)

    def fail(self, job: Job, exc: Exception) -> None:
        if isinstance(exc, AlreadyColorized):
            self.settle(colorized_skip(job, str(exc)))
            return
        if isinstance(exc, AlreadyColour):
            why = f"{ALREADY_COLOUR}: skipped (--colour-inputs colorize takes it)"
            self.settle(FileResult(str(job.source), "skipped", str(job.output), why))
            return
        message = str(exc) if isinstance(exc, ImageError) else f"unexpected {type(exc).__name__}: {exc}"
        self.settle(FileResult(str(job.source), "failed", str(job.output), message))

    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def run(self, todo) -> None:
        try:
            self.fill(todo)
            while self.decoding and not self.stopping():
                job, fut = self.decoding.popleft()
                self.fill(todo)
                try:
                    item = fut.result()
                except Exception as exc:  # noqa: BLE001 - one file's failure never stops the batch
                    self.fail(job, exc)
                    continue
                self.group(item)
                self.drain_encoded(keep=self.window)
            for shape in list(self.groups):
                if not self.stopping():
                    self.infer(self.groups.pop(shape))
            self.encode_inferred(keep=0)  # a stop still finishes and writes the batches in flight
            self.drain_encoded(keep=0)
        finally:
            for _, fut in self.decoding:
                fut.cancel()

    def fill(self, todo) -> None:
        while len(self.decoding) < self.window:
            job = next(todo, None)
            if job is None:
                return
            args = (job, self.options, self.render_size, self.norm)
            self.decoding.append((job, self.decoders.submit(_decode, *args)))

    def group(self, item: _Decoded) -> None:
        """Batch ``item`` with the images of its shape; infer a batch when full."""
        group = self.groups.setdefault(item.net_input.shape, [])
        group.append(item)
        if len(group) >= self.options.batch_size:
            self.infer(self.groups.pop(item.net_input.shape))
        elif sum(map(len, self.groups.values())) > self.window:
            # Images of many different shapes: run the largest partial batch rather than hold
            # decoded images without bound.
            self.infer(self.groups.pop(max(self.groups, key=lambda k: len(self.groups[k]))))

    def infer(self, items: list[_Decoded]) -> None:
        inputs = np.stack([it.net_input for it in items])
        channels = _hint_channels(self.model, items, inputs.shape[1:])
        self.inferring.append((items, self.inference.submit(core.predict_ab, self.model, inputs, channels)))
        self.encode_inferred(keep=self.streams - 1)
        self.drain_encoded(keep=self.window)

    def encode_inferred(self, keep: int) -> None:
        """Pass finished batches to the encoders in order; wait for the oldest while more than
        ``keep`` are being inferred."""
        while self.inferring:
            items, fut = self.inferring[0]
            if len(self.inferring) <= keep and not fut.done():
                return
            self.inferring.popleft()
            try:
                predicted = list(fut.result())
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory: retry each image alone
                predicted = [_predict_alone(self.model, item, exc) for item in items]
            for item, ab_one in zip(items, predicted, strict=True):
                if isinstance(ab_one, Exception):
                    self.fail(item.job, ab_one)
                elif not np.isfinite(ab_one).all():
                    self.fail(item.job, ImageError(NON_FINITE))
                else:
                    args = (item, ab_one, self.options, self.label, self.norm)
                    self.encoding.append((item.job, self.encoders.submit(_encode, *args)))

    def drain_encoded(self, keep: int) -> None:
        """Settle finished encodes in order; wait for the oldest while more than ``keep`` pend."""
        while self.encoding:
            job, fut = self.encoding[0]
            if len(self.encoding) <= keep and not fut.done():
                return
            self.encoding.popleft()
            try:
                self.settle(fut.result())
            except Exception as exc:  # noqa: BLE001 - one file's failure never stops the batch
                self.fail(job, exc)
