"""Where one 768x512 photo's CPU time goes in `bwcolor colorize`, for docs/benchmarks.md.

For each model, on 24 gray 768x512 JPEGs made from the first photos of PHOTOS:

* alone, one thread each: the forward pass (median of 24) and the file work's stages (read,
  L and network input, upsampling and merge with the full-resolution L, encode and atomic
  write; medians over the photos), in milliseconds of one core;
* inside real runs of the pipeline (batch 1, bwcolor's threads; 3 runs): the same stages' thread
  CPU time and the whole process's CPU time per image, and images per second.

The last figure, the forward pass's core-ms alone over the process's core-ms per image in a run,
is the share of the model-only rate that a pipeline keeping every core busy reaches.

    python scripts/speed/cpu_per_image.py ../shared/data/train baseline fusion effnet_unet
"""

import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import cv2
import torch
from speed_folder import gray_jpegs

from bwcolor import load_model
from bwcolor.files.decode import read_image
from bwcolor.files.encode import write_image
from bwcolor.image import colorize as core
from bwcolor.pipeline import photos
from bwcolor.pipeline.jobs import Job, Options
from bwcolor.pipeline.photos import run_jobs


def one_thread_stages(model, paths: list[Path], out: Path) -> dict[str, float]:
    """Median one-thread milliseconds of each stage, and of the forward pass."""
    norm, size = core.normalisation_of(model), core.render_size_of(model)
    times = defaultdict(list)
    cv2.setNumThreads(1)
    try:
        with photos.torch_threads(1):
            for path in paths:
                t0 = time.thread_time()
                picture = read_image(path)
                t1 = time.thread_time()
                x = core.network_input(core.luminance(picture).lum, size, norm)[None]
                t2 = time.thread_time()
                ab = core.predict_ab(model, x)[0]
                t3 = time.thread_time()
                pixels = core.colorized_pixels(picture, ab)
                t4 = time.thread_time()
                write_image(out / path.name, pixels, None, "jpg", 95, picture.metadata)
                t5 = time.thread_time()
                for stage, seconds in zip(
                    ("read", "L + input", "forward", "merge", "write"),
                    (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4),
                    strict=True,
                ):
                    times[stage].append(seconds * 1000)
    finally:
        cv2.setNumThreads(-1)
    return {stage: statistics.median(ms) for stage, ms in times.items()}


def in_run(model, paths: list[Path], out: Path) -> tuple[float, float, dict[str, float]]:
    """One pipeline run: (images/s, process CPU ms per image, thread CPU ms per image by stage)."""
    spent: dict[str, float] = defaultdict(float)
    lock = threading.Lock()
    originals = {"decode": photos._decode, "forward": core.predict_ab, "merge + write": photos._encode}

    def counted(stage, function):
        def run(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                with lock:
                    spent[stage] += time.thread_time() - t0

        return run

    photos._decode, core.predict_ab, photos._encode = (counted(k, f) for k, f in originals.items())
    try:
        before = resource.getrusage(resource.RUSAGE_SELF)
        jobs = [Job(p, out / p.name) for p in paths]
        summary = run_jobs(jobs, model, Options(out, batch_size=1, overwrite=True))
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        photos._decode, core.predict_ab, photos._encode = originals.values()
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    n = summary.done
    return summary.images_per_second, cpu / n * 1000, {k: v / n * 1000 for k, v in spent.items()}


def main() -> None:
    photos, models = sys.argv[1], sys.argv[2:]
    tmp = Path(tempfile.mkdtemp())
    paths = gray_jpegs(photos, tmp, 24)
    out = tmp / "out"
    out.mkdir()
    print(f"{torch.get_num_threads()} torch threads, {len(paths)} photos; core-ms per image")
    for name in models:
        model = load_model(name)
        alone = one_thread_stages(model, paths, out)
        runs = [in_run(model, paths, out) for _ in range(3)]
        rate, cpu = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        stages = {k: statistics.median(r[2][k] for r in runs) for k in runs[0][2]}
        file_work = sum(v for k, v in alone.items() if k != "forward")
        print(
            f"{name}: alone: "
            + ", ".join(f"{k} {v:.1f}" for k, v in alone.items())
            + f" (file work {file_work:.1f}) | in a run: {rate:.1f} images/s, process {cpu:.1f}: "
            + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
            + f" | forward alone / process: {alone['forward'] / cpu:.0%}",
            flush=True,
        )


if __name__ == "__main__":
    main()
