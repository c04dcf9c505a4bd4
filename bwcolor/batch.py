"""Batch colorization of many files: plan outputs, then decode, infer and encode in a pipeline.

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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bwcolor import colorize as core
from bwcolor import lab
from bwcolor.decode import DEFAULT_MAX_PIXELS, read_image
from bwcolor.encode import write_image
from bwcolor.errors import ImageError, UsageError
from bwcolor.formats import format_of, is_video_path, normalise_format, output_path
from bwcolor.hints import HintError, Hints, hint_files_for, read_hints
from bwcolor.inputs import InputProblem, Source
from bwcolor.metadata import Metadata, fit_metadata
from bwcolor.outputs import ALREADY_COLOUR, COLORIZED, OTHER_MODEL, OUTPUT_EXISTS
from bwcolor.pixels import Picture
from bwcolor.temporal import CARRY
from bwcolor.video import FilmOptions


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
class Options:
    out_dir: Path
    fmt: str | None = None  # None: keep each input's format
    overwrite: bool = False
    batch_size: int = 8
    workers: int | None = None  # None: default_workers of the model's device (a cluster worker's own)
    quality: int = 95
    max_pixels: int = DEFAULT_MAX_PIXELS
    render_size: int | None = None
    saturation: float = 1.0
    temporal_smoothing: float = CARRY  # videos: colour carried along the motion (bwcolor.temporal)
    film: FilmOptions = field(default_factory=FilmOptions)  # videos: codec, quality, which stretch
    provenance: bool = True  # tag outputs as colorized by bwcolor (EXIF Software, XMP)
    model_label: str | None = None  # the model as outputs name it: existing ones by another are reported
    out_file: Path | None = None  # one input: its output's file name (its extension, the format)
    suffix: str | None = None  # outputs beside their inputs, named NAME<suffix>.EXT
    include_colorized: bool = False  # also colorize inputs that bwcolor's provenance tag marks
    compare: bool = False  # also write NAME.compare.jpg: the input and the output side by side
    colour_inputs: str = "colorize"  # inputs already in colour (or toned): "colorize" or "skip"
    hint_files: bool = True  # use each photo's NAME.hints.json / NAME.hints.png (bwcolor.hints)
    hint_file: Path | None = None  # one input: its hint file, wherever it is

    def hints_for(self, source: Path) -> list[Path]:
        """The hint files of ``source``: the one named for a single input, else those beside it."""
        if self.hint_file is not None:
            return [self.hint_file]
        return hint_files_for(source) if self.hint_files else []

    def output_for(self, src: Source) -> Path:
        """Where the output of ``src`` goes: the one file named, beside it with the suffix, or
        under the output folder, mirroring the input tree."""
        if self.out_file is not None:
            return self.out_file
        if self.suffix is not None:
            named = output_path(Path(src.path.name), self.fmt)
            return src.path.with_name(named.stem + self.suffix + named.suffix)
        return self.out_dir / output_path(src.relative, self.fmt)


@dataclass
class Job:
    source: Path
    output: Path


@dataclass
class FileResult:
    source: str
    status: str  # "done", "skipped" or "failed"; "planned" in a dry run
    output: str | None = None
    message: str = ""
    had_colour: bool = False
    notes: list[str] = field(default_factory=list)
    frames: int = 0  # a video's frames written (0 for an image)
    hinted: bool = False  # colorized with colour hints


#: Colour (or toned) inputs named in the summary; the rest are counted.
COLOUR_NAMED = 5


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    skipped_other_model: int = 0  # of the skipped: outputs an earlier run made with another model
    skipped_colorized: int = 0  # of the skipped: inputs that are bwcolor's own outputs
    skipped_colour: int = 0  # of the skipped: colour or toned inputs (--colour-inputs skip)
    failed: int = 0
    planned: int = 0  # a dry run: files that would be colorized
    colour_inputs: int = 0
    hinted: int = 0  # of the done: colorized with colour hints
    unused_hint_files: int = 0  # hint files without their photo (status "unused")
    colour_files: list[str] = field(default_factory=list)  # the first COLOUR_NAMED of them
    seconds: float = 0.0
    failures: list[FileResult] = field(default_factory=list)
    interrupted: bool = False  # stopped (Ctrl-C) before every file was done: a rerun resumes
    removed_temporaries: int = 0  # partial files of killed runs, removed before starting
    videos: int = 0  # of the done: videos
    frames: int = 0  # their frames
    video_seconds: float = 0.0  # of ``seconds``: spent on videos

    @property
    def images_per_second(self) -> float:
        """Photos (videos not counted) per second of the time spent on photos."""
        seconds = self.seconds - self.video_seconds
        return (self.done - self.videos) / seconds if seconds > 0 else 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.video_seconds if self.video_seconds > 0 else 0.0

    def add(self, result: FileResult) -> None:
        if result.status == "done":
            self.done += 1
            self.colour_inputs += result.had_colour
            if result.had_colour and len(self.colour_files) < COLOUR_NAMED:
                self.colour_files.append(result.source)
            self.videos += bool(result.frames)
            self.hinted += result.hinted
            self.frames += result.frames
        elif result.status == "planned":
            self.planned += 1
        elif result.status == "unused":
            self.unused_hint_files += 1
        elif result.status == "skipped":
            self.skipped += 1
            self.skipped_other_model += result.message.startswith(OTHER_MODEL)
            self.skipped_colorized += result.message.startswith(COLORIZED)
            self.skipped_colour += result.message.startswith(ALREADY_COLOUR)
        else:
            self.failed += 1
            self.failures.append(result)

    def to_dict(self) -> dict:
        return {
            "done": self.done,
            "skipped": self.skipped,
            "skipped_other_model": self.skipped_other_model,
            "skipped_colorized": self.skipped_colorized,
            "skipped_colour": self.skipped_colour,
            "failed": self.failed,
            "planned": self.planned,
            "colour_inputs": self.colour_inputs,
            "colour_files": self.colour_files,
            "hinted": self.hinted,
            "unused_hint_files": self.unused_hint_files,
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.images_per_second, 3),
            "videos": self.videos,
            "frames": self.frames,
            "frames_per_second": round(self.frames_per_second, 3),
            "failures": [{"file": f.source, "error": f.message} for f in self.failures],
            "interrupted": self.interrupted,
        }


class AlreadyColorized(ImageError):
    """An input that bwcolor's provenance tag marks as its own output: skipped, not failed."""


class AlreadyColour(ImageError):
    """An input that is a colour or toned photo, with ``colour_inputs="skip"``: skipped."""


def input_made_by(path: Path) -> str | None:
    """The bwcolor provenance of an input (photo or film) from its header alone, or None."""
    from bwcolor.decode import open_image
    from bwcolor.metadata import read_metadata

    if is_video_path(path):
        from bwcolor.video import made_by as film_made_by

        model = film_made_by(path)
        return None if model is None else f"bwcolor, model {model}"
    try:
        with open(path, "rb") as f, open_image(f) as im:
            return read_metadata(im).colorized_by()
    except Exception:  # noqa: BLE001 - unreadable: the run itself will say why
        return None


def colorized_skip(job: Job, made: str) -> FileResult:
    why = f"{COLORIZED} ({made}): skipped; --include-colorized takes it"
    return FileResult(str(job.source), "skipped", str(job.output), why)


def made_by(output: Path) -> str | None:
    """The model an existing output's provenance tag names (``name (checkpoint file)``), or None
    (no tag: written with --no-provenance, or not by bwcolor)."""
    from bwcolor.decode import open_image
    from bwcolor.metadata import SOFTWARE

    if is_video_path(output):
        from bwcolor.video import made_by as video_made_by

        return video_made_by(output)
    try:
        with open(output, "rb") as f, open_image(f) as im:
            software = im.getexif().get(SOFTWARE) or getattr(im, "tag_v2", {}).get(SOFTWARE)
    except Exception:  # noqa: BLE001 - an unreadable output: nothing to compare
        return None
    if not isinstance(software, str) or not software.startswith("bwcolor ") or ", model " not in software:
        return None
    maker = software.split(", model ", 1)[1]
    if maker.isascii() and "\\" in maker:  # a TIFF's ASCII-escaped name (see metadata.ascii_text)
        maker = maker.encode("ascii").decode("unicode_escape")
    return maker


def plan(sources: list[Source], options: Options) -> tuple[list[Job], list[FileResult]]:
    """Map sources to outputs; return the jobs to run and the files already settled.

    Raises :class:`UsageError` if an output would overwrite an input. Two inputs mapping to one
    output (``a.jpg`` and ``a.png`` with ``--format png``) fail the second, never overwrite.
    """
    inputs = {s.path.resolve(): s for s in sources}
    jobs: list[Job] = []
    settled: list[FileResult] = []
    claimed: dict[Path, Path] = {}
    for src in sources:
        out = options.output_for(src)
        key = out.resolve()
        if key in inputs:
            raise UsageError(
                f"{src.path}: its output {out} would overwrite an input; choose another --output folder"
            )
        if key in claimed:
            settled.append(
                FileResult(
                    str(src.path),
                    "failed",
                    str(out),
                    f"same output name as {claimed[key]} ({out}); not written",
                )
            )
            continue
        claimed[key] = src.path
        if out.exists() and not options.overwrite:
            maker = made_by(out)
            if options.model_label is not None and maker is not None and maker != options.model_label:
                why = f"{OTHER_MODEL} ({maker}), not {options.model_label}: skipped; --overwrite redoes it"
            else:
                why = OUTPUT_EXISTS
            settled.append(FileResult(str(src.path), "skipped", str(out), why))
            continue
        jobs.append(Job(src.path, out))
    return jobs, settled


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


def model_label(model: nn.Module) -> str:
    """The model's name, with its checkpoint file: what the provenance tag names."""
    checkpoint = getattr(model, "checkpoint", None)
    name = getattr(model, "model_name", type(model).__name__)
    return f"{name} ({Path(checkpoint['path']).name})" if checkpoint else name


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
            from bwcolor.compare import write_compare

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
    report = on_result or (lambda r: None)
    render_size = core.render_size_of(model, options.render_size)
    norm = core.normalisation_of(model)
    label = model_label(model) if options.provenance else None
    device = core.model_device(model)
    workers = options.workers or default_workers(device)
    streams, threads = inference_plan(device, workers)
    window = max(2, workers * 2 + options.batch_size * streams)
    start = time.perf_counter()

    def settle(result: FileResult) -> None:
        summary.add(result)
        report(result)

    def fail(job: Job, exc: Exception) -> None:
        if isinstance(exc, AlreadyColorized):
            settle(colorized_skip(job, str(exc)))
            return
        if isinstance(exc, AlreadyColour):
            why = f"{ALREADY_COLOUR}: skipped (--colour-inputs colorize takes it)"
            settle(FileResult(str(job.source), "skipped", str(job.output), why))
            return
        message = str(exc) if isinstance(exc, ImageError) else f"unexpected {type(exc).__name__}: {exc}"
        settle(FileResult(str(job.source), "failed", str(job.output), message))

    with (
        torch_threads(threads),
        ThreadPoolExecutor(workers, "bwcolor-decode") as decoders,
        ThreadPoolExecutor(streams, "bwcolor-infer") as inference,
        ThreadPoolExecutor(workers, "bwcolor-encode") as encoders,
    ):
        decoding: deque[tuple[Job, Future]] = deque()
        inferring: deque[tuple[list[_Decoded], Future]] = deque()
        encoding: deque[tuple[Job, Future]] = deque()
        groups: dict[tuple[int, int], list[_Decoded]] = {}
        todo = iter(jobs)

        def drain_encoded(keep: int) -> None:
            """Settle finished encodes in order; wait for the oldest while more than ``keep`` pend."""
            while encoding:
                job, fut = encoding[0]
                if len(encoding) <= keep and not fut.done():
                    return
                encoding.popleft()
                try:
                    settle(fut.result())
                except Exception as exc:  # noqa: BLE001 - one file's failure never stops the batch
                    fail(job, exc)

        def encode_inferred(keep: int) -> None:
            """Pass finished batches to the encoders in order; wait for the oldest while more
            than ``keep`` are being inferred."""
            while inferring:
                items, fut = inferring[0]
                if len(inferring) <= keep and not fut.done():
                    return
                inferring.popleft()
                try:
                    predicted = list(fut.result())
                except Exception as exc:  # noqa: BLE001 - e.g. out of memory: retry each image alone
                    predicted = [_predict_alone(model, item, exc) for item in items]
                for item, ab_one in zip(items, predicted, strict=True):
                    if isinstance(ab_one, Exception):
                        fail(item.job, ab_one)
                    elif not np.isfinite(ab_one).all():
                        fail(item.job, ImageError(NON_FINITE))
                    else:
                        encoding.append(
                            (item.job, encoders.submit(_encode, item, ab_one, options, label, norm))
                        )

        def infer(items: list[_Decoded]) -> None:
            inputs = np.stack([it.net_input for it in items])
            channels = _hint_channels(model, items, inputs.shape[1:])
            inferring.append((items, inference.submit(core.predict_ab, model, inputs, channels)))
            encode_inferred(keep=streams - 1)
            drain_encoded(keep=window)

        def fill() -> None:
            while len(decoding) < window:
                job = next(todo, None)
                if job is None:
                    return
                decoding.append((job, decoders.submit(_decode, job, options, render_size, norm)))

        def stopping() -> bool:
            return stop is not None and stop.is_set()

        try:
            fill()
            while decoding and not stopping():
                job, fut = decoding.popleft()
                fill()
                try:
                    item = fut.result()
                except Exception as exc:  # noqa: BLE001 - one file's failure never stops the batch
                    fail(job, exc)
                    continue
                group = groups.setdefault(item.net_input.shape, [])
                group.append(item)
                if len(group) >= options.batch_size:
                    infer(groups.pop(item.net_input.shape))
                elif sum(map(len, groups.values())) > window:
                    # Images of many different shapes: run the largest partial batch rather
                    # than hold decoded images without bound.
                    infer(groups.pop(max(groups, key=lambda k: len(groups[k]))))
                drain_encoded(keep=window)
            for shape in list(groups):
                if not stopping():
                    infer(groups.pop(shape))
            encode_inferred(keep=0)  # a stop still finishes and writes the batches in flight
            drain_encoded(keep=0)
            for _, fut in decoding:
                fut.cancel()
        except BaseException:
            for _, fut in decoding:
                fut.cancel()
            raise
        finally:
            summary.seconds += time.perf_counter() - start
    return summary


def problems_as_results(problems: list[InputProblem]) -> list[FileResult]:
    return [FileResult(p.input, p.status, None, p.message) for p in problems]
