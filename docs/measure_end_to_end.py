"""End-to-end speed against model-only speed at 768x512, for docs/benchmarks.md.

Makes 24 gray 768x512 JPEGs from the first photos of PHOTOS, then for each model prints the
forward pass's time (batch 1, after warm-up, median of 5), its GFLOP/s, and the `bwcolor
colorize` pipeline's images per second (decode to atomic write, batch 1, median of 3) as a share
of the model-only rate:

    python docs/measure_end_to_end.py ../shared/data/train baseline fusion effnet_unet
"""

import sys
import tempfile
from pathlib import Path

import cv2

from bwcolor import lab, load_model
from bwcolor.benchmark import gflops_per_image, time_end_to_end, time_forward
from bwcolor.colorize import render_size_of
from bwcolor.inputs import expand_inputs


def main() -> None:
    photos, models = sys.argv[1], sys.argv[2:]
    sources, _ = expand_inputs([photos])
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, source in enumerate(sources[:24]):
            gray = cv2.imread(str(source.path), cv2.IMREAD_GRAYSCALE)
            path = Path(tmp) / f"{i:02d}.jpg"
            cv2.imwrite(str(path), cv2.resize(gray, (768, 512), interpolation=cv2.INTER_AREA))
            paths.append(path)
        print(
            "| model | GFLOPs/image | model ms/image | GFLOP/s | end-to-end images/s | share of model-only |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name in models:
            model = load_model(name)
            shape = lab.render_shape(512, 768, render_size_of(model))
            gflops = gflops_per_image(model, shape)
            ms = time_forward(model, shape, 1, 5)
            rate = time_end_to_end(model, paths, 1, 3)
            print(
                f"| {name} | {gflops:.2f} | {ms:.1f} | {gflops / ms * 1000:.0f} | {rate:.1f} | "
                f"{rate * ms / 1000:.0%} |"
            )


if __name__ == "__main__":
    main()
