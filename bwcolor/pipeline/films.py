"""Colorizing films: frames streamed through the network, colour carried along the motion.

>>> from bwcolor import colorize_video, load_model
>>> result = colorize_video(load_model("effnet_unet"), "film.mp4", "film_colour.mp4")

A video is decoded, colorized and encoded frame by frame in three threads (reading, the network
with :class:`~bwcolor.pipeline.temporal.Stabiliser`, writing), so memory stays bounded whatever its length
or size. The output keeps the input's container, frame size, frame count and timestamps (a
variable frame rate stays as the container says), copies its audio streams unchanged and its
container metadata, and names bwcolor and the model in the ``comment`` tag. It is written to a
temporary file beside the output and renamed when whole: a killed or stopped run leaves no
partial video.

FFmpeg comes inside the PyAV wheel (``av``): no system FFmpeg is used. Video is H.264 (x264,
CRF 18) in every container but WebM, which gets VP9; :class:`~bwcolor.pipeline.jobs.FilmOptions` chooses another codec
(H.265, VP9, FFV1 lossless) or quality, and a stretch of the film (``start``, ``duration``).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from torch import nn

from bwcolor import lab
from bwcolor.errors import ImageError, UsageError
from bwcolor.files.atomic import AppearedMeanwhile, atomic_path
from bwcolor.files.ffmpeg import av_module, file_url
from bwcolor.files.pixels import Picture
from bwcolor.image import colorize as core
from bwcolor.pipeline.jobs import FileResult, FilmOptions, Summary, colorized_skip, model_label
from bwcolor.pipeline.provenance import PROVENANCE_TAG, film_made_by
from bwcolor.pipeline.temporal import CARRY, Stabiliser

#: Container of each video extension, as FFmpeg names its muxer.
CONTAINERS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
}


#: Sound codecs a WebM file may hold; another (a Matroska film named .webm) makes it Matroska.
WEBM_SOUND = {"opus", "vorbis"}
#: Frames waiting between the threads: at most this many, and at most QUEUE_BYTES of decoded
#: pictures in each queue (2 frames of a 4K film): memory stays bounded, whatever the video.
QUEUE_FRAMES = 8
QUEUE_BYTES = 64 * 2**20
#: A film whose decodable frames end before this share of the length its container announces is
#: taken as truncated or damaged.
TRUNCATED = 0.9


@dataclass
class VideoInfo:
    width: int
    height: int
    frames: int  # as the container says (0: unknown)
    fps: float  # average frame rate
    duration: float  # seconds (0: unknown)
    audio_streams: int


@dataclass
class VideoResult:
    frames: int = 0
    cuts: int = 0  # scene cuts found (the first frame not counted)
    seconds: float = 0.0
    had_colour: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class Stopped(Exception):
    """The run was asked to stop: the video was abandoned and nothing written."""


def main_video(container):
    """The film's video stream: of those that are not a cover picture, the longest (a film whose
    first stream is a one-frame still is a film, not a still)."""
    streams = list(container.streams.video)
    moving = [
        v for v in streams if not v.disposition & av_module().stream.Disposition.attached_pic
    ] or streams
    return max(moving, key=lambda v: (v.frames, _announced_seconds(v, None)))


def _open_input(path: Path, max_pixels: int | None = None):
    av = av_module()
    try:
        container = av.open(file_url(path), "r", metadata_errors="replace")  # Latin-1 tags: replaced
    except EOFError:
        raise ImageError(
            "not a readable video: it ends before its first frame (empty, or cut short)"
        ) from None
    except av.FFmpegError as exc:
        raise ImageError(f"not a readable video ({_cause(exc)})") from None
    except OSError as exc:
        raise ImageError(f"cannot read the file: {exc.strerror or exc}") from None
    if not container.streams.video:
        container.close()
        raise ImageError("no video stream in this file")
    ctx = main_video(container).codec_context
    if ctx is None:  # a codec this FFmpeg does not know
        container.close()
        raise ImageError("the video's codec is unknown to the FFmpeg inside bwcolor (PyAV): cannot decode it")
    if max_pixels and ctx.width * ctx.height > max_pixels:  # checked before any frame is decoded
        container.close()
        raise ImageError(
            f"frames of {ctx.width} x {ctx.height} pixels exceed --max-pixels {max_pixels} "
            "(raise it to colorize this film)"
        )
    return container


def _cause(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).split(": '", 1)[0]


def probe(path: str | Path) -> VideoInfo:
    """What the container says of its first video stream; :class:`ImageError` if unreadable."""
    with _open_input(Path(path)) as container:
        stream = main_video(container)
        rate = stream.average_rate or stream.guessed_rate or 0
        duration = _announced_seconds(stream, container)
        frames = stream.frames or (round(duration * float(rate)) if rate else 0)
        return VideoInfo(
            stream.codec_context.width, stream.codec_context.height, int(frames), float(rate),
            duration, len(container.streams.audio),
        )  # fmt: skip


@dataclass
class _Frame:
    index: int
    pts: int
    picture: Picture
    lum_small: np.ndarray  # L at the network's resolution, for the motion estimate
    net_input: np.ndarray


def colorize_video(
    model: nn.Module,
    src: str | Path,
    dst: str | Path,
    *,
    saturation: float = 1.0,
    render_size: int | None = None,
    carry: float = CARRY,
    provenance: str | None = "",
    batch_size: int = 1,
    on_frames: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    max_pixels: int | None = None,
    overwrite: bool = True,
    film: FilmOptions | None = None,
) -> VideoResult:
    """Colorize the video ``src`` into ``dst`` (a container of the same kind, by extension).

    ``carry``: how much colour follows the motion from frame to frame (0: every frame
    colorized alone; see :mod:`bwcolor.pipeline.temporal`). ``provenance``: the text of the ``comment``
    tag (``""``: bwcolor and the model's name; None: no tag). ``on_frames(n)`` is called as
    frames are written; setting ``stop`` abandons the video (:class:`Stopped`, nothing written).
    ``max_pixels``: frames larger than this are refused before any is decoded. With
    ``overwrite=False``, a file that appears at ``dst`` while the film is written (another run's)
    is kept (:class:`~bwcolor.files.atomic.AppearedMeanwhile`). ``film``: the codec, its quality and
    the stretch of the film to write (:class:`FilmOptions`; default the whole film in H.264).
    Raises :class:`ImageError` for a video that cannot be read or written, and
    :class:`~bwcolor.errors.UsageError` for an output that is the input itself.
    """
    import time

    src, dst = Path(src), Path(dst)
    if dst.suffix.lower() not in CONTAINERS:
        raise ImageError(f"{dst}: not a video file name ({', '.join(CONTAINERS)})")
    if _same_file(src, dst):
        raise UsageError(f"{dst}: the output would replace the input film; choose another name")
    film = film or FilmOptions()
    film.check()
    film.encoder(CONTAINERS[dst.suffix.lower()])
    if provenance == "":
        from bwcolor.files.metadata import Metadata

        provenance = Metadata().with_provenance(model_label(model)).provenance
    start = time.perf_counter()
    result = VideoResult()
    with _open_input(src, max_pixels) as container, atomic_path(dst, replace=overwrite) as tmp:
        _Run(model, container, tmp, CONTAINERS[dst.suffix.lower()], result, saturation,
             render_size, carry, provenance, batch_size, on_frames, stop, film).run()  # fmt: skip
    result.seconds = time.perf_counter() - start
    return result


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (through links or different spellings)."""
    try:
        return b.exists() and a.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


class _Run:
    """One video through the three threads: read -> network and stabiliser -> write."""

    def __init__(self, model, container, tmp, fmt, result, saturation, render_size, carry,
                 provenance, batch_size, on_frames, stop, film):  # fmt: skip
        self.model, self.container, self.tmp, self.fmt, self.result = model, container, tmp, fmt, result
        self.film = film
        self.saturation, self.carry, self.provenance = saturation, carry, provenance
        self.render_size = core.render_size_of(model, render_size)
        self.norm = core.normalisation_of(model)
        self.batch_size = max(1, batch_size)
        self.on_frames = on_frames or (lambda n: None)
        self.stop = stop or threading.Event()
        self.failed = threading.Event()  # any thread's error stops the others
        ctx = main_video(container).codec_context
        depth = max(2, min(QUEUE_FRAMES, QUEUE_BYTES // max(1, 3 * ctx.width * ctx.height)))
        self.to_model: queue.Queue = queue.Queue(depth)
        self.to_writer: queue.Queue = queue.Queue(depth)

    def run(self) -> None:
        video = main_video(self.container)
        video.thread_type = "AUTO"
        others = [v for v in self.container.streams.video if v is not video]
        if others:
            self.result.notes.append(
                f"{len(others)} other video stream(s) not carried (a cover picture or a second angle): "
                f"stream {video.index} is the film"
            )
        audio = list(self.container.streams.audio)
        errors: list[BaseException] = []
        reader = threading.Thread(target=self._guard, args=(self._read, errors, video, audio), daemon=True)
        writer = threading.Thread(target=self._guard, args=(self._write, errors, video, audio), daemon=True)
        reader.start()
        writer.start()
        try:
            self._guard(self._infer, errors)  # Ctrl-C here is caught and raised below, as errors
            writer.join()
        finally:  # also on a Ctrl-C while waiting for the writer: every thread stops
            self.failed.set()
            _drain(self.to_model)
            _drain(self.to_writer)
            writer.join()
            reader.join()
        if errors:
            raise errors[0]
        if self.stop.is_set():
            raise Stopped()
        if not self.result.frames:
            raise ImageError("the video has no frames")

    def _guard(self, work, errors: list[BaseException], *args) -> None:
        try:
            work(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            errors.append(exc)
            self.failed.set()

    def _put(self, q: queue.Queue, item) -> bool:
        """Put ``item`` unless the run failed or was stopped meanwhile; False then."""
        while not (self.failed.is_set() or self.stop.is_set()):
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue):
        """The next item, or None once the run failed or was stopped and nothing is waiting."""
        while True:
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                if self.failed.is_set() or self.stop.is_set():
                    return None

    # -- reading ------------------------------------------------------------------------------
    def _read(self, video, audio) -> None:
        av = av_module()
        index, first_pts, last_pts, last_step, sound_end = 0, None, None, 1, 0.0
        step = _frame_step(video)
        span = _Span(self.film, video, self.container)
        try:
            for packet in self.container.demux(video, *audio):
                if packet.stream.type == "audio":
                    if packet.pts is not None and packet.time_base:
                        sound_end = max(
                            sound_end, float((packet.pts + (packet.duration or 0)) * packet.time_base)
                        )
                    if (
                        packet.dts is not None
                        and span.keep_sound(packet)
                        and not self._put(self.to_model, packet)
                    ):
                        return
                    continue
                for frame in packet.decode():
                    if span.before(frame):
                        continue
                    if span.after(frame):
                        self._put(self.to_model, None)
                        return
                    pts = span.shifted(frame.pts)
                    if last_pts is None:
                        pts = first_pts = pts or 0
                    elif pts is None:  # no timestamp: one frame after the last
                        pts = last_pts + step
                    elif pts <= last_pts:  # an encoder wants strictly increasing timestamps
                        pts = last_pts + 1
                    last_pts, last_step = pts, frame.duration or step  # a held last frame lasts
                    if not self._put(self.to_model, self._prepare(index, pts, frame)):
                        return
                    index += 1
        except av.FFmpegError as exc:
            where = f" at frame {index}" if index else ""
            raise ImageError(
                f"the video cannot be decoded{where} (truncated or damaged: {_cause(exc)})"
            ) from None
        if not index and self.film.trimmed:
            raise ImageError(
                f"nothing to colorize from --start {self.film.start:g} s: the film ends before it"
            )
        if index and last_pts is not None and not self.film.trimmed:
            tb = float(video.time_base or 0)
            _check_length(
                video, self.container, first_pts * tb, (last_pts + last_step) * tb, sound_end, index
            )
        self._put(self.to_model, None)

    def _prepare(self, index: int, pts: int, frame) -> _Frame:
        picture = Picture(frame.to_ndarray(format="rgb24"))
        lum = core.luminance(picture)
        if index == 0:
            self.result.had_colour = lum.had_colour
        h, w = lab.render_shape(*lum.lum.shape, self.render_size)
        small = lab.resize(lum.lum, h, w)
        return _Frame(index, pts, picture, small, self.norm.encode_l(small))

    # -- the network and the stabiliser --------------------------------------------------------
    def _infer(self) -> None:
        stabiliser = Stabiliser(self.carry) if self.carry > 0 else None
        pending: list[_Frame] = []
        while True:
            item = self._get(self.to_model)
            if item is None or self.stop.is_set():
                break
            if not isinstance(item, _Frame):  # an audio packet: keep it in step with the frames
                self._flush(pending, stabiliser)
                if not self._put(self.to_writer, item):
                    return
                continue
            pending.append(item)
            if len(pending) >= self.batch_size:
                self._flush(pending, stabiliser)
        if not self.stop.is_set():
            self._flush(pending, stabiliser)
        self._put(self.to_writer, None)

    def _flush(self, pending: list[_Frame], stabiliser: Stabiliser | None) -> None:
        if not pending:
            return
        predicted = core.predict_ab(self.model, np.stack([f.net_input for f in pending]))
        for frame, ab in zip(pending, predicted, strict=True):
            if not np.isfinite(ab).all():
                raise ImageError(
                    "the model predicted NaN or infinite colours (damaged weights?): not written"
                )
            if stabiliser is not None:
                step = stabiliser.step(frame.lum_small, ab)
                ab = step.ab
                self.result.cuts += step.cut and frame.index > 0
            if not self._put(self.to_writer, (frame, ab)):
                break
        pending.clear()

    # -- writing ------------------------------------------------------------------------------
    def _write(self, video, audio) -> None:
        av = av_module()
        fmt = self._container_format(audio)
        try:
            out = av.open(file_url(self.tmp), "w", format=fmt)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise ImageError(f"cannot write the video: {_cause(exc)}") from None
        with out:
            try:
                self._write_streams(out, video, audio)
            except (av.FFmpegError, ValueError) as exc:  # what the muxer refuses: this film only
                raise ImageError(f"cannot write the video: {_cause(exc)}") from None

    def _write_streams(self, out, video, audio) -> None:
        av = av_module()
        out.metadata.update(_own_tags(self.container.metadata))
        if self.provenance:
            out.metadata[PROVENANCE_TAG] = self.provenance
        encoder = self._add_video_stream(out, video)
        copies = self._add_sound(out, audio)
        # FFmpeg reads H.264 in AVI one frame late (AVI cannot say there is no reordering): an
        # AVI is written one frame early (where the input leaves room), so that it reads back at
        # the input's times
        avi, early = out.format.name == "avi", None
        while True:
            item = self._get(self.to_writer)
            if item is None:
                break
            if not isinstance(item, tuple):
                if item.stream.index in copies:
                    item.stream = copies[item.stream.index]
                    out.mux(item)
                continue
            frame, ab = item
            rgb = core.colorized_pixels(frame.picture, ab, self.saturation)
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            early = (min(1, frame.pts) if avi else 0) if early is None else early
            picture.pts, picture.time_base = frame.pts - early, video.time_base
            out.mux(encoder.encode(picture))
            self.result.frames += 1
            self.on_frames(1)
        if self.failed.is_set() or self.stop.is_set():
            return  # the temporary file goes: atomic_path removes it
        out.mux(encoder.encode(None))

    def _container_format(self, audio) -> str:
        """The output's container: the name's, but Matroska for a .webm whose sound WebM cannot
        hold (a Matroska film named .webm, as the input is)."""
        codecs = {a.codec_context.name for a in audio if a.codec_context is not None}
        if self.fmt == "webm" and codecs - WEBM_SOUND:
            self.result.notes.append(
                f"written as Matroska, as the input is: WebM cannot hold {', '.join(sorted(codecs - WEBM_SOUND))} sound"
            )
            return "matroska"
        return self.fmt

    def _add_sound(self, out, audio) -> dict:
        """Output streams copying each sound track the container can hold, by input index; a
        track that cannot be carried is named in a note."""
        av = av_module()
        copies = {}
        for number, track in enumerate(audio, 1):
            if track.codec_context is None:
                self.result.notes.append(f"sound track {number} not carried: its codec is unknown to FFmpeg")
                continue
            try:
                copies[track.index] = out.add_stream_from_template(track)
            except (av.FFmpegError, ValueError) as exc:
                self.result.notes.append(
                    f"sound track {number} ({track.codec_context.name}) not carried: {_cause(exc)}"
                )
        return copies

    def _add_video_stream(self, out, video):
        codec, options = self.film.encoder(self.fmt)  # a .webm written as Matroska keeps VP9
        ctx = video.codec_context
        rate = video.average_rate or video.guessed_rate or Fraction(25)
        stream = out.add_stream(codec, rate=rate, options=dict(options))
        stream.width, stream.height = ctx.width, ctx.height
        # 4:2:0 halves the colour's resolution and needs even sides; an odd-sized film keeps
        # its size with full-resolution colour instead; FFV1 (lossless) stores the RGB itself
        even = ctx.width % 2 == 0 and ctx.height % 2 == 0
        stream.pix_fmt = "bgr0" if codec == "ffv1" else "yuv420p" if even else "yuv444p"
        stream.time_base = video.time_base
        stream.codec_context.time_base = video.time_base
        stream.metadata.update(_own_tags(video.metadata))
        return stream


#: Tags that describe the input's encoding, not the film: the muxer writes its own.
TECHNICAL_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands", "duration"}


class _Span:
    """The stretch of a film to colorize (:class:`FilmOptions`' start and duration, in seconds
    from the film's first timestamp): the reader seeks to the key frame before it, skips what
    comes before, stops after it, keeps the sound packets inside it, and shifts every kept
    timestamp by the start, so that the output starts where the film does."""

    def __init__(self, film: FilmOptions, video, container):
        self.start, self.end = film.start, (film.start + film.duration if film.duration else float("inf"))
        self.video_tb = video.time_base or Fraction(1, 90000)
        self.base = video.start_time or 0
        self.offset = round(Fraction(film.start) / self.video_tb)
        if film.start:
            container.seek(self.base + self.offset, stream=video, backward=True)

    def _seconds(self, pts, base, time_base) -> float:
        return float((pts - base) * time_base) if pts is not None and time_base else 0.0

    def before(self, frame) -> bool:
        return self._seconds(frame.pts, self.base, self.video_tb) < self.start - 1e-6

    def after(self, frame) -> bool:
        return self._seconds(frame.pts, self.base, self.video_tb) >= self.end - 1e-6

    def shifted(self, pts):
        return None if pts is None else max(self.base, pts - self.offset)

    def keep_sound(self, packet) -> bool:
        """Whether a sound packet lies in the stretch; if so, its timestamps are shifted."""
        if not self.start and self.end == float("inf"):
            return True
        base = packet.stream.start_time or 0
        seconds = self._seconds(packet.pts, base, packet.time_base)
        if not self.start - 1e-6 <= seconds < self.end:
            return False
        shift = round(Fraction(self.start) / packet.time_base)
        packet.pts -= shift
        packet.dts = None if packet.dts is None else max(base, packet.dts - shift)
        return True


def _own_tags(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if k.lower() not in TECHNICAL_TAGS}


def _announced_seconds(stream, container=None) -> float:
    """The video stream's length as its container says (0: unknown); without the stream's own,
    the container's (its longest stream's), given ``container``."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tagged = _tag_seconds(stream.metadata.get("DURATION", ""))  # Matroska keeps it as a tag
    if tagged:
        return tagged
    return container.duration / 1_000_000 if container is not None and container.duration else 0.0


def _tag_seconds(text: str) -> float:
    """Seconds of a ``HH:MM:SS.fraction`` tag (0 if it is not one)."""
    try:
        hours, minutes, seconds = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return 0.0


def _check_length(video, container, start: float, end: float, sound_end: float, frames: int) -> None:
    """:class:`ImageError` if what was decoded ends well before the length announced: the video
    stream's own, else the container's (its longest stream's: then the picture or the sound must
    reach it; a film whose sound runs on past its picture is whole). Timestamps in seconds.

    Frame counts are compared only where no length is announced: an edit list (an MP4 trimmed
    without re-encoding) announces the frames before the edit, which are not shown."""
    own = _announced_seconds(video)
    if own:
        announced, reached = own, end - start
    elif container.duration:
        announced, reached = container.duration / 1_000_000, max(end, sound_end) - start
    else:
        if video.frames and frames < TRUNCATED * video.frames:
            raise ImageError(
                f"truncated or damaged: {frames} of the {video.frames} frames it announces could be decoded"
            )
        return
    if reached < TRUNCATED * announced:
        raise ImageError(
            f"truncated or damaged: its frames end at {reached:.1f} s of the {announced:.1f} s it announces"
        )


def _frame_step(video) -> int:
    """One frame's duration in the stream's time base (for frames without a timestamp)."""
    rate = video.average_rate or video.guessed_rate
    if not rate or not video.time_base:
        return 1
    return max(1, round(1 / (float(rate) * float(video.time_base))))


def _drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def run_video_jobs(
    jobs: list,
    model: nn.Module,
    options,
    on_result: Callable | None = None,
    summary=None,
    stop: threading.Event | None = None,
    on_video: Callable[[str, int], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
):
    """Colorize video ``jobs`` (:class:`bwcolor.pipeline.photos.Job`) one after another, as
    :func:`bwcolor.pipeline.photos.run_jobs` does photos: one :class:`~bwcolor.pipeline.photos.FileResult` each to
    ``on_result``; ``on_video(source, frames the container announces)`` before each video and
    ``on_frames(n)`` as its frames are written. Setting ``stop`` abandons the video in progress
    (nothing of it is written) and starts no other."""
    import time

    summary = summary if summary is not None else Summary()
    report = on_result or (lambda r: None)
    provenance = "" if options.provenance else None
    for job in jobs:
        if stop is not None and stop.is_set():
            break
        made = None if options.include_colorized else film_made_by(job.source)
        if made is not None:  # a film bwcolor made: not colorized again
            result = colorized_skip(job, f"bwcolor, model {made}")
            summary.add(result)
            report(result)
            continue
        start = time.perf_counter()
        try:
            if on_video is not None:
                on_video(str(job.source), _announced_frames(job.source, options.film))
            done = colorize_video(
                model, job.source, job.output, saturation=options.saturation,
                render_size=options.render_size, carry=options.temporal_smoothing, provenance=provenance,
                batch_size=options.batch_size, on_frames=on_frames, stop=stop, max_pixels=options.max_pixels,
                overwrite=options.overwrite, film=options.film,
            )  # fmt: skip
        except Stopped:
            break
        except AppearedMeanwhile:
            why = "written meanwhile by another run: kept, not replaced; --overwrite redoes it"
            result = FileResult(str(job.source), "skipped", str(job.output), why)
        except ImageError as exc:
            result = FileResult(str(job.source), "failed", str(job.output), str(exc))
        except OSError as exc:
            result = FileResult(
                str(job.source), "failed", str(job.output), f"cannot write: {exc.strerror or exc}"
            )
        else:
            unused = [
                f"{h.name} not used: films take no colour hints yet" for h in options.hints_for(job.source)
            ]
            result = FileResult(str(job.source), "done", str(job.output), had_colour=done.had_colour,
                                notes=done.notes + unused, frames=done.frames)  # fmt: skip
        finally:
            elapsed = time.perf_counter() - start
            summary.seconds += elapsed
            summary.video_seconds += elapsed
        summary.add(result)
        report(result)
    return summary


def _announced_frames(path: Path, film: FilmOptions | None = None) -> int:
    """The frames the container announces (0: unknown), or those of the stretch asked for."""
    try:
        info = probe(path)
    except ImageError:
        return 0  # the run itself reports why
    if film is None or not film.trimmed or not info.frames or not info.duration:
        return info.frames
    rate = info.frames / info.duration
    left = max(0.0, info.duration - film.start)
    return round(rate * min(left, film.duration or left))
