"""Colorizing files, folders and globs: the library call behind ``bwcolor colorize``.

>>> from bwcolor import colorize_paths
>>> summary = colorize_paths(["scans/"], "colorized", model="effnet_unet")
>>> summary.done, summary.skipped, summary.failed

It expands the inputs, plans the outputs (mirroring the input tree; refusing to overwrite an
input), skips existing outputs (reporting those another model made), removes temporary files
that killed runs left, loads the model and runs the pipeline, locally or on a Dask cluster. Per
file results go to ``on_result`` as they happen. Every default lives here; the command line only
parses and prints.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from bwcolor.device import resolve_device
from bwcolor.files.decode import DEFAULT_MAX_PIXELS
from bwcolor.files.formats import is_image_path, is_video_path
from bwcolor.files.hints import is_hint_name
from bwcolor.pipeline import jobs, photos
from bwcolor.pipeline.films import CONTAINERS
from bwcolor.pipeline.jobs import FileResult, FilmOptions, Options, Summary
from bwcolor.pipeline.outputs import DEFAULT_OUTPUT
from bwcolor.pipeline.temporal import CARRY
from bwcolor.shipped import DEFAULT_MODEL


def _check_file_target(out_file: Path, sources: list, fmt: str | None) -> None:
    """An output file name takes one input, of its kind, in the format its extension names."""
    from bwcolor.errors import UsageError
    from bwcolor.files.formats import format_of, normalise_format

    if len(sources) > 1:
        raise UsageError(
            f"--output {out_file} is a file name, for one input; {len(sources)} inputs were found: "
            "give a folder for several (or --suffix to write beside each)"
        )
    if sources and is_video_path(sources[0].path) != is_video_path(out_file):
        kind = "a film" if is_video_path(sources[0].path) else "a photo"
        raise UsageError(
            f"--output {out_file}: {sources[0].path.name} is {kind}; give a file name of that kind"
        )
    if fmt is not None and not is_video_path(out_file) and normalise_format(fmt) != format_of(out_file):
        raise UsageError(
            f"--output {out_file} and --format {fmt} disagree: the file name's extension sets the format"
        )


def colorize_paths(
    inputs: Iterable[str | Path],
    output: str | Path | None = None,
    model: str = DEFAULT_MODEL,
    *,
    suffix: str | None = None,
    include_colorized: bool = False,
    compare: bool = False,
    colour_inputs: str = "colorize",
    hints: str | Path | None = None,
    hint_files: bool = True,
    fmt: str | None = None,
    overwrite: bool = False,
    recursive: bool = True,
    device: str = "auto",
    batch_size: int | None = None,
    workers: int | None = None,
    precision: str = "auto",
    render_size: int | None = None,
    saturation: float = 1.0,
    temporal_smoothing: float = CARRY,
    start: float = 0.0,
    duration: float | None = None,
    codec: str | None = None,
    crf: int | None = None,
    quality: int = 95,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    provenance: bool = True,
    backbone_weights: str | None = None,
    scheduler: str | None = None,
    on_start: Callable[[int, Summary], None] | None = None,
    on_result: Callable[[FileResult], None] | None = None,
    on_video: Callable[[str, int], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    dry_run: bool = False,
) -> Summary:
    """Colorize every image and video that ``inputs`` (files, folders, glob patterns; or one of
    them, as a string or path) name into ``output``: a folder (default ``colorized``) mirroring
    the input tree, or, for one input, a file name with an image or video extension (which sets
    the format). ``suffix`` instead writes each output beside its input, as NAME<suffix>.EXT.
    Inputs that bwcolor's provenance tag marks as its own outputs are skipped unless
    ``include_colorized``. ``compare``: also a before/after JPEG beside each photo's output
    (``NAME.compare.jpg``). ``colour_inputs``: what to do with inputs that are already colour or
    toned photos, ``"colorize"`` (from their luminance; named in the summary) or ``"skip"``.
    Colour hints (:mod:`bwcolor.files.hints`): a photo's NAME.hints.json and NAME.hints.png beside it
    are used unless ``hint_files`` is false; ``hints`` names the hint file of a single input.
    A hint file that cannot be used fails its photo alone (nothing written for it).
    ``dry_run``: nothing is loaded or written; each file's result says
    what would happen (status ``planned``, or why it would be skipped or fail).

    Raises :class:`~bwcolor.errors.UsageError` or :class:`~bwcolor.errors.ModelError` before
    anything is written (an unknown model or format, an output that would overwrite an input).
    ``on_start(n, summary)`` is called once the files are planned, with the number to colorize
    and the summary so far (skips, planning failures, partial files of killed runs removed);
    ``on_result`` once per file (planning failures and skips first); ``on_video(source, frames)``
    as each video starts (with the frame count its container announces, 0 if none) and
    ``on_frames(n)`` as its frames are written. Photos go first, then videos, one at a time
    (:func:`bwcolor.pipeline.films.run_photos_and_videos`); ``temporal_smoothing`` is how much of a frame's colour
    follows the motion into the next (0: each frame alone; :mod:`bwcolor.pipeline.temporal`). Setting
    ``stop`` ends the run after the batch of photos in progress, or abandons the video in progress
    (nothing of it is written). Films are written whole in H.264 (VP9 in WebM) unless ``codec``
    (``h264``, ``h265``, ``vp9``, ``ffv1``: lossless), ``crf`` (quality: lower is better), ``start``
    and ``duration`` (seconds: a stretch, e.g. to try settings on a long reel) say otherwise.
    ``batch_size`` and ``workers`` default by device (1 and 2 on
    a CPU, 8 and up to 8 beside a GPU); ``scheduler``, a Dask scheduler's address, spreads the
    files over a cluster.
    """
    from bwcolor.files.atomic import remove_stale_temporaries
    from bwcolor.models.checkpoint import load_model
    from bwcolor.pipeline.run import run_photos_and_videos

    report = on_result or (lambda r: None)
    if isinstance(inputs, str | os.PathLike):  # one file, folder or pattern, not its characters
        inputs = [inputs]
    options, model_ref = colorize_options(
        output, model, suffix=suffix, include_colorized=include_colorized, compare=compare, fmt=fmt,
        colour_inputs=colour_inputs, hints=hints, hint_files=hint_files, overwrite=overwrite, device=device, batch_size=batch_size, workers=workers, precision=precision, render_size=render_size,
        saturation=saturation, temporal_smoothing=temporal_smoothing, quality=quality, max_pixels=max_pixels,
        provenance=provenance, film=FilmOptions(start, duration, codec, crf),
    )  # fmt: skip
    jobs, settled = _plan(inputs, options, recursive)
    summary = Summary()
    for result in settled:
        summary.add(result)
        report(result)
    if dry_run:
        for job in jobs:
            result = _what_would_happen(job, options)
            summary.add(result)
            report(result)
        return summary
    net = client = None
    if scheduler is not None and jobs:
        from bwcolor.pipeline.cluster import connect

        client = connect(scheduler)
    elif jobs:
        net = load_model(model_ref, resolve_device(device), backbone_weights, precision)
    out_folders = {job.output.parent for job in jobs}
    summary.removed_temporaries = remove_stale_temporaries(out_folders)
    if on_start is not None:
        on_start(len(jobs), summary)
    try:
        if client is not None:
            from bwcolor.pipeline.cluster import ModelSpec, run_on_cluster

            with client:  # workers load the model themselves, from its absolute path
                spec = ModelSpec(model_ref, device, backbone_weights, precision)
                run_on_cluster(client, jobs, spec, options, report, summary, stop)
        elif jobs:
            run_photos_and_videos(jobs, net, options, report, summary, stop, on_video, on_frames)
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.interrupted = summary.interrupted or (stop is not None and stop.is_set())
    remove_stale_temporaries(out_folders)  # e.g. of a cluster worker that died
    return summary


def colorize_options(
    output, model: str, *, suffix, include_colorized, fmt, device, precision, hints, **settings
) -> tuple[Options, str]:
    """The run's :class:`Options` and the model's reference (a name, or the checkpoint's absolute
    path), every option checked before any file is read."""
    from bwcolor.device import resolve_precision
    from bwcolor.errors import UsageError
    from bwcolor.files.formats import normalise_format
    from bwcolor.image.colorize import check_rendering
    from bwcolor.models.checkpoint import UNTRAINED, label_of, resolve_model_path

    if suffix is not None and output is not None:
        raise UsageError("--suffix writes each output beside its input: give it or --output, not both")
    if suffix == "":
        raise UsageError("--suffix must not be empty: the output would replace its input")
    if hints is not None:
        if not settings["hint_files"]:
            raise UsageError("--hints names a hint file and --no-hints ignores them: give one of them")
        if not Path(hints).is_file():
            raise UsageError(f"--hints {hints}: no such file")
        if not is_hint_name(hints):
            raise UsageError(f"--hints {hints}: a hint file is JSON points (.json) or PNG strokes (.png)")
        settings["hint_file"] = Path(hints)
    if settings.get("colour_inputs") not in ("colorize", "skip"):
        raise UsageError(f"--colour-inputs must be colorize or skip, not {settings.get('colour_inputs')!r}")
    output = DEFAULT_OUTPUT if output is None else Path(output)
    out_file = output if is_image_path(output) or is_video_path(output) else None
    if fmt is not None:
        try:
            fmt = normalise_format(fmt)
        except ValueError as exc:
            raise UsageError(f"--format: {exc}") from None
    settings["film"].check()
    check_rendering(settings["render_size"], settings["saturation"])
    if not 0.0 <= settings["temporal_smoothing"] < 1.0:
        raise UsageError(
            f"--temporal-smoothing must be at least 0 and below 1, not {settings['temporal_smoothing']:g}"
        )
    dev = resolve_device(device)
    resolve_precision(precision, dev)  # a wrong precision fails before any file is planned
    # an unknown model fails before any file is read; a shipped one's name wins over a folder
    model_ref = model if model in UNTRAINED else str(resolve_model_path(model).resolve())
    settings["batch_size"] = settings["batch_size"] or photos.default_batch_size(dev)
    options = Options(
        output if out_file is None else output.parent, fmt, **settings, model_label=label_of(model_ref),
        out_file=out_file, suffix=suffix, include_colorized=include_colorized,
    )  # fmt: skip
    return options, model_ref


def _plan(inputs, options: Options, recursive: bool) -> tuple[list, list[FileResult]]:
    """The jobs to run, and the results already settled (inputs that gave nothing, skips)."""
    from bwcolor.files.inputs import expand_inputs

    exclude = options.out_dir if options.out_file is None and options.suffix is None else None
    sources, problems = expand_inputs(
        [str(i) for i in inputs], recursive=recursive, exclude=exclude, videos=True
    )
    if options.out_file is not None:
        _check_file_target(options.out_file, sources, options.fmt)
    if options.hint_file is not None and (len(sources) != 1 or is_video_path(sources[0].path)):
        from bwcolor.errors import UsageError

        found = "a film" if sources and is_video_path(sources[0].path) else f"{len(sources)} inputs"
        raise UsageError(
            f"--hints {options.hint_file} is for one photo; {found} found: put NAME.hints.json "
            "beside each photo instead"
        )
    for film in {CONTAINERS[s.path.suffix.lower()] for s in sources if is_video_path(s.path)}:
        options.film.encoder(film)  # a codec the container cannot hold: refused before any film is read
    if options.suffix is not None:  # NAME<suffix>.EXT are this way's outputs (a rerun's): not inputs
        sources = [s for s in sources if not s.path.stem.endswith(options.suffix)]
    todo, settled = jobs.plan(sources, options)
    return todo, jobs.problems_as_results(problems) + settled


def _what_would_happen(job, options: Options) -> FileResult:
    """A dry run's result for a planned job: colorized into its output, or skipped as bwcolor's
    own output (the input's provenance tag, read from its header only)."""
    from bwcolor.pipeline.jobs import colorized_skip
    from bwcolor.pipeline.provenance import input_made_by

    made = None if options.include_colorized else input_made_by(job.source)
    if made is not None:
        return colorized_skip(job, made)
    hints = [] if is_video_path(job.source) else options.hints_for(job.source)
    with_hints = f"with hints from {', '.join(str(h) for h in hints)}" if hints else ""
    return FileResult(str(job.source), "planned", str(job.output), with_hints)
