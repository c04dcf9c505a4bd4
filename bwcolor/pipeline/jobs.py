"""What the photo and film pipelines share: the options of a run (:class:`Options`, with
:class:`FilmOptions` for films), a job (one input and its output), the result of each file and
the run's :class:`Summary`, and :func:`plan`, which maps inputs to outputs and settles the files
that need no work (existing outputs, two inputs with one output name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from bwcolor.errors import ImageError, UsageError
from bwcolor.files.decode import DEFAULT_MAX_PIXELS
from bwcolor.files.formats import output_path
from bwcolor.files.hints import hint_files_for
from bwcolor.files.inputs import InputProblem, Source
from bwcolor.pipeline.outputs import ALREADY_COLOUR, COLORIZED, OTHER_MODEL, OUTPUT_EXISTS
from bwcolor.pipeline.provenance import made_by
from bwcolor.pipeline.temporal import CARRY

#: Video codecs by the name ``--codec`` takes: FFmpeg's encoder, its options, its default CRF
#: (None: lossless, no CRF) and the containers that may hold it.
CODECS = {
    "h264": ("libx264", {"preset": "fast"}, 18, ("mp4", "mov", "matroska", "avi")),
    "h265": ("libx265", {"preset": "fast", "x265-params": "log-level=error"}, 22, ("mp4", "mov", "matroska")),
    "vp9": ("libvpx-vp9", {"b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}, 30,
            ("webm", "matroska", "mp4")),
    "ffv1": ("ffv1", {"level": "3", "g": "1", "slicecrc": "1"}, None, ("matroska", "avi")),
}  # fmt: skip


#: The codec of each container when none is asked for.
DEFAULT_CODEC = {"webm": "vp9"}


#: AVI stores no timestamps: B-frames (reordered) would come back out of order and a frame late.
NO_REORDERING = {"avi": {"bf": "0"}}


@dataclass(frozen=True)
class FilmOptions:
    """How films are written: ``codec`` (a key of :data:`CODECS`; None: H.264, VP9 in WebM),
    ``crf`` (the encoder's quality: lower is better and larger; None: the codec's default), and
    which stretch: from ``start`` seconds, ``duration`` seconds long (None: to the end)."""

    start: float = 0.0
    duration: float | None = None
    codec: str | None = None
    crf: int | None = None

    def check(self) -> None:
        """:class:`UsageError` for settings no film could be written with."""
        if self.codec is not None and self.codec not in CODECS:
            raise UsageError(f"--codec must be one of {', '.join(CODECS)}, not {self.codec!r}")
        if self.crf is not None and self.codec is not None and CODECS[self.codec][2] is None:
            raise UsageError(f"--crf: {self.codec} is lossless and takes no CRF")
        if self.crf is not None and not 0 <= self.crf <= 63:
            raise UsageError(f"--crf must be between 0 and 63, not {self.crf}")
        if not 0 <= self.start < float("inf") or (
            self.duration is not None and not 0 < self.duration < float("inf")
        ):
            raise UsageError("--start must be at least 0 and --duration above 0 (seconds)")

    def encoder(self, fmt: str) -> tuple[str, dict]:
        """FFmpeg's encoder and its options for a film in container ``fmt``; :class:`UsageError`
        if that container cannot hold the codec asked for."""
        name = self.codec or DEFAULT_CODEC.get(fmt, "h264")
        codec, options, crf, containers = CODECS[name]
        if fmt not in containers:
            raise UsageError(f"--codec {name}: a {fmt} file cannot hold it (use {', '.join(containers)})")
        options = {**options, **NO_REORDERING.get(fmt, {})}
        if crf is not None:
            options["crf"] = str(self.crf if self.crf is not None else crf)
        return codec, options

    @property
    def trimmed(self) -> bool:
        return bool(self.start) or self.duration is not None


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
    temporal_smoothing: float = CARRY  # videos: colour carried along the motion (bwcolor.pipeline.temporal)
    film: FilmOptions = field(default_factory=FilmOptions)  # videos: codec, quality, which stretch
    provenance: bool = True  # tag outputs as colorized by bwcolor (EXIF Software, XMP)
    model_label: str | None = None  # the model as outputs name it: existing ones by another are reported
    out_file: Path | None = None  # one input: its output's file name (its extension, the format)
    suffix: str | None = None  # outputs beside their inputs, named NAME<suffix>.EXT
    include_colorized: bool = False  # also colorize inputs that bwcolor's provenance tag marks
    compare: bool = False  # also write NAME.compare.jpg: the input and the output side by side
    colour_inputs: str = "colorize"  # inputs already in colour (or toned): "colorize" or "skip"
    hint_files: bool = True  # use each photo's NAME.hints.json / NAME.hints.png (bwcolor.files.hints)
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


def colorized_skip(job: Job, made: str) -> FileResult:
    why = f"{COLORIZED} ({made}): skipped; --include-colorized takes it"
    return FileResult(str(job.source), "skipped", str(job.output), why)


def model_label(model: nn.Module) -> str:
    """The model's name, with its checkpoint file: what the provenance tag names."""
    checkpoint = getattr(model, "checkpoint", None)
    name = getattr(model, "model_name", type(model).__name__)
    return f"{name} ({Path(checkpoint['path']).name})" if checkpoint else name


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


def problems_as_results(problems: list[InputProblem]) -> list[FileResult]:
    return [FileResult(p.input, p.status, None, p.message) for p in problems]
