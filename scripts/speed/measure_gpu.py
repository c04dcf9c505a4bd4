"""GPU speed for docs/benchmarks.md: each shipped model by precision, batch size and worker threads.

Makes 64 gray 768x512 JPEGs from the first photos of PHOTOS, then prints and saves to OUT.json:

* model-only milliseconds per image (forward pass at the render shape of a 3:2 photo, after
  warm-up, median of 20) for fp32, fp16 and bf16, batch 1 to 256, with cuDNN's autotuner off
  and on;
* how far fp16 and bf16 move the predicted ab from fp32 on 16 of those photos (Lab units);
* end-to-end images per second of ``bwcolor colorize``'s pipeline (decode to atomic write,
  median of 2) by precision, batch size and decoding/encoding threads.

    python scripts/speed/measure_gpu.py ../shared/data/train gpu.json
"""

import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from speed_folder import gray_jpegs

from bwcolor import lab, load_model
from bwcolor.device import environment
from bwcolor.files.decode import read_image
from bwcolor.image.colorize import luminance, network_input, normalisation_of, predict_ab, render_size_of
from bwcolor.quality.benchmark import gflops_per_image, time_end_to_end, time_forward

MODELS = ("baseline", "fusion", "effnet_unet")
PRECISIONS = ("fp32", "fp16", "bf16")
BATCHES = (1, 8, 32, 64, 128, 256)
E2E_PRECISIONS = ("fp32", "fp16")
E2E_BATCHES = (1, 8, 32)
E2E_WORKERS = (2, 4, 8, 12)
DEVICE = "cuda"


def model_only(results: dict) -> None:
    print("\n| model | precision | cuDNN autotuner | " + " | ".join(f"b{b} ms/img" for b in BATCHES) + " |")
    for name in MODELS:
        for precision in PRECISIONS:
            model = load_model(name, DEVICE, precision=precision)
            shape = lab.render_shape(512, 768, render_size_of(model))
            results.setdefault("gflops", {})[name] = gflops_per_image(model, shape)
            for tuned in (False, True):
                torch.backends.cudnn.benchmark = tuned
                row = {b: time_forward(model, shape, b, repeats=20, warmup=3) for b in BATCHES}
                results["model_only"].append(
                    {"model": name, "precision": precision, "cudnn_benchmark": tuned, "ms_per_image": row}
                )
                cells = " | ".join(f"{row[b]:.3f}" for b in BATCHES)
                print(f"| {name} | {precision} | {'on' if tuned else 'off'} | {cells} |", flush=True)
    torch.backends.cudnn.benchmark = False


def precision_error(paths: list[Path], results: dict) -> None:
    print("\n| model | precision | mean abs ab change | 99.9th percentile | max |")
    for name in MODELS:
        reference = load_model(name, DEVICE, precision="fp32")
        inputs = np.stack(
            [
                network_input(
                    luminance(read_image(p)).lum, render_size_of(reference), normalisation_of(reference)
                )
                for p in paths[:16]
            ]
        )
        ab32 = predict_ab(reference, inputs)
        for precision in PRECISIONS[1:]:
            diff = np.abs(predict_ab(load_model(name, DEVICE, precision=precision), inputs) - ab32)
            row = {
                "model": name,
                "precision": precision,
                "mean": float(diff.mean()),
                "p999": float(np.quantile(diff, 0.999)),
                "max": float(diff.max()),
            }
            results["precision_error"].append(row)
            print(
                f"| {name} | {precision} | {row['mean']:.3f} | {row['p999']:.3f} | {row['max']:.3f} |",
                flush=True,
            )


def end_to_end(paths: list[Path], results: dict) -> None:
    print("\n| model | precision | batch | " + " | ".join(f"{w} workers img/s" for w in E2E_WORKERS) + " |")
    for name in MODELS:
        for precision in E2E_PRECISIONS:
            model = load_model(name, DEVICE, precision=precision)
            time_end_to_end(model, paths[:8], 8, 1)  # warm-up
            for batch in E2E_BATCHES:
                row = {w: time_end_to_end(model, paths, batch, 2, w) for w in E2E_WORKERS}
                results["end_to_end"].append(
                    {"model": name, "precision": precision, "batch": batch, "images_per_second": row}
                )
                cells = " | ".join(f"{row[w]:.1f}" for w in E2E_WORKERS)
                print(f"| {name} | {precision} | {batch} | {cells} |", flush=True)


def main() -> None:
    photos, out = sys.argv[1], Path(sys.argv[2])
    results = {
        "environment": environment(torch.device(DEVICE)),
        "model_only": [],
        "precision_error": [],
        "end_to_end": [],
    }
    print(json.dumps(results["environment"]))
    with tempfile.TemporaryDirectory() as tmp:
        paths = gray_jpegs(photos, Path(tmp), 64)
        for stage in (model_only, lambda r: precision_error(paths, r), lambda r: end_to_end(paths, r)):
            stage(results)
            out.write_text(json.dumps(results, indent=1))
    best = {}
    for row in results["model_only"]:
        for b, ms in row["ms_per_image"].items():
            key = row["model"]
            if key not in best or ms < best[key][0]:
                best[key] = (ms, row["precision"], row["cudnn_benchmark"], b)
    print("\nfastest model-only:", json.dumps(best))
    print(
        "median e2e:",
        statistics.median(v for r in results["end_to_end"] for v in r["images_per_second"].values()),
    )


if __name__ == "__main__":
    main()
