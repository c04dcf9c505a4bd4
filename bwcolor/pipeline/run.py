"""A list of jobs run to the end, whatever they hold: the photos in batches, then the films."""

from __future__ import annotations

import threading
from collections.abc import Callable

from torch import nn

from bwcolor.files.formats import is_video_path
from bwcolor.pipeline.films import run_video_jobs
from bwcolor.pipeline.jobs import Summary
from bwcolor.pipeline.photos import run_jobs


def split_videos(jobs: list) -> tuple[list, list]:
    """``jobs`` as (photos, videos), each in its order."""
    return [j for j in jobs if not is_video_path(j.source)], [j for j in jobs if is_video_path(j.source)]


def run_photos_and_videos(
    jobs: list,
    model: nn.Module,
    options,
    on_result: Callable | None = None,
    summary=None,
    stop: threading.Event | None = None,
    on_video: Callable[[str, int], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
):
    """The photos of ``jobs`` (:func:`bwcolor.pipeline.photos.run_jobs`), then, unless stopped
    meanwhile, its films (:func:`bwcolor.pipeline.films.run_video_jobs`); the results in
    ``summary``."""
    summary = summary if summary is not None else Summary()
    photos, videos = split_videos(jobs)
    if photos:
        run_jobs(photos, model, options, on_result, summary, stop)
    if videos and not (stop is not None and stop.is_set()):
        run_video_jobs(videos, model, options, on_result, summary, stop, on_video, on_frames)
    return summary
