"""Batch colorization on a Dask distributed cluster (``bwcolor colorize ... --scheduler ADDRESS``).

The planned jobs are cut into shares of a few photos, or one video; each share is one Dask task
that runs the same pipeline as a local run (:func:`bwcolor.pipeline.photos.run_jobs`: decode, batched
inference, atomic writes; :func:`bwcolor.pipeline.films.run_video_jobs` for a video) on a worker, which
loads the model once and keeps it for every share it gets. Results
come back per share and are reported as on one machine. If a worker dies, Dask runs its shares
again elsewhere (outputs are written atomically, so a share done twice is harmless); if the
whole run stops, rerunning the command skips what is done.

Every worker must see the inputs, the output folder and the model file at the same paths (a
shared file system), and have bwcolor installed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from bwcolor.errors import UsageError
from bwcolor.pipeline.jobs import FileResult, Job, Options, Summary

#: How long to try reaching the scheduler.
CONNECT_TIMEOUT = "20s"
#: Files per task: small enough to balance the load, large enough to batch and to hide I/O.
SHARE_SIZE = 16


@dataclass(frozen=True)
class ModelSpec:
    """How a worker loads the model: what ``load_model`` takes (a name or a checkpoint path)."""

    name_or_path: str
    device: str = "auto"
    backbone_weights: str | None = None
    precision: str = "auto"


@lru_cache(maxsize=2)
def _worker_model(spec: ModelSpec):
    """The model, loaded once per worker process (every share on that worker reuses it)."""
    from bwcolor.device import resolve_device
    from bwcolor.models.checkpoint import load_model

    return load_model(spec.name_or_path, resolve_device(spec.device), spec.backbone_weights, spec.precision)


def colorize_share(jobs: list[Job], spec: ModelSpec, options: Options) -> list[FileResult]:
    """Runs on a worker: colorize ``jobs`` and return one result per file."""
    from bwcolor.files.atomic import remove_stale_temporaries
    from bwcolor.pipeline.run import run_photos_and_videos

    results: list[FileResult] = []
    run_photos_and_videos(jobs, _worker_model(spec), options, results.append)
    remove_stale_temporaries({job.output.parent for job in jobs})  # a dead worker's, on this host
    return results


def _shares(jobs: list[Job]) -> list[list[Job]]:
    """Photos in shares of SHARE_SIZE; each video a share of its own (a worker that dies redoes
    that video alone)."""
    from bwcolor.pipeline.run import split_videos

    photos, videos = split_videos(jobs)
    return [photos[i : i + SHARE_SIZE] for i in range(0, len(photos), SHARE_SIZE)] + [[v] for v in videos]


def connect(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--scheduler needs Dask's distributed scheduler: pip install 'bwcolor[cluster]'"
        ) from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:  # ValueError: not an address
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def run_on_cluster(
    client,
    jobs: list[Job],
    spec: ModelSpec,
    options: Options,
    on_result: Callable[[FileResult], None] | None = None,
    summary: Summary | None = None,
    stop: threading.Event | None = None,
) -> Summary:
    """Colorize ``jobs`` on the cluster ``client`` is connected to (:func:`connect`); like
    :func:`bwcolor.pipeline.photos.run_jobs`.

    Setting ``stop`` cancels the shares not yet reported and returns; the files they wrote are
    whole (atomic writes), and a rerun skips them.
    """
    import time

    from distributed import as_completed

    summary = summary if summary is not None else Summary()
    report = on_result or (lambda r: None)
    start = time.perf_counter()
    shares = _shares(jobs)
    futures = [client.submit(colorize_share, share, spec, options, pure=False) for share in shares]
    share_of = dict(zip(futures, shares, strict=True))
    try:
        for future in as_completed(futures):
            if stop is not None and stop.is_set():
                client.cancel([f for f in futures if not f.done()])
                break
            try:
                results = future.result()
            except Exception as exc:  # noqa: BLE001 - a share that failed on every retry
                results = [
                    FileResult(str(job.source), "failed", str(job.output), f"cluster task failed: {exc}")
                    for job in share_of[future]
                ]
            for result in results:
                summary.add(result)
                report(result)
    finally:
        summary.seconds += time.perf_counter() - start
    return summary
