"""End-to-end speed against model-only speed at 768x512, for docs/benchmarks.md.

Makes 24 gray 768x512 JPEGs from the first photos of PHOTOS, then for each model prints:

* the forward pass's time at batch 1 with all torch threads (after warm-up, median of 5) and
  its GFLOP/s;
* the forward pass's rate as ``bwcolor colorize`` runs it on this CPU (``batch.inference_plan``:
  on 2 cores two single-threaded passes at once), images per second over 24 passes, median of 3;
* the ``bwcolor colorize`` pipeline's images per second (decode to atomic write, batch 1, median
  of 3), as a share of each model-only rate.

    python scripts/speed/measure_end_to_end.py ../shared/data/train baseline fusion effnet_unet
"""

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from speed_folder import gray_jpegs

from bwcolor import lab, load_model
from bwcolor.image.colorize import render_size_of
from bwcolor.pipeline.photos import default_workers, inference_plan, torch_threads
from bwcolor.quality.benchmark import gflops_per_image, time_end_to_end, time_forward


def planned_rate(model, shape: tuple[int, int], passes: int = 24, repeats: int = 3) -> float:
    """Images per second of the forward pass alone, in the arrangement bwcolor uses here."""
    device = torch.device("cpu")
    streams, threads = inference_plan(device, default_workers(device))
    x = torch.rand(1, 1, *shape).mul_(2).sub_(1).contiguous(memory_format=torch.channels_last)

    def forward(_) -> None:
        with torch.inference_mode():
            model(x)

    rates = []
    with torch_threads(threads), ThreadPoolExecutor(streams) as pool:
        list(pool.map(forward, range(2 * streams)))  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(pool.map(forward, range(passes)))
            rates.append(passes / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    photos, models = sys.argv[1], sys.argv[2:]
    streams, threads = inference_plan(torch.device("cpu"), default_workers(torch.device("cpu")))
    plan = f"{streams} at once x {threads or torch.get_num_threads()} threads"
    with tempfile.TemporaryDirectory() as tmp:
        paths = gray_jpegs(photos, Path(tmp), 24)
        print(
            f"| model | GFLOPs/image | model ms/image, {torch.get_num_threads()} threads | GFLOP/s | "
            f"model images/s, {plan} | end-to-end images/s | share of model-only: "
            f"{torch.get_num_threads()} threads | {plan} |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name in models:
            model = load_model(name)
            shape = lab.render_shape(512, 768, render_size_of(model))
            gflops = gflops_per_image(model, shape)
            ms = time_forward(model, shape, 1, 5)
            planned = planned_rate(model, shape)
            rate = time_end_to_end(model, paths, 1, 3)
            print(
                f"| {name} | {gflops:.2f} | {ms:.1f} | {gflops / ms * 1000:.0f} | {planned:.1f} | "
                f"{rate:.1f} | {rate * ms / 1000:.0%} | {rate / planned:.0%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
