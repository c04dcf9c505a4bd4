"""A/B of how a CPU runs the network in `bwcolor colorize`: one pass on all threads against
bwcolor's plan (on 2 cores: two single-threaded passes at once), alternated 4 times in one process.

    python scripts/speed/ab_inference_plan.py ../shared/data/train baseline fusion effnet_unet
"""

import statistics
import sys
import tempfile
from pathlib import Path

from speed_folder import gray_jpegs

from bwcolor import load_model
from bwcolor.quality.benchmark import time_end_to_end


def main() -> None:
    photos, models = sys.argv[1], sys.argv[2:]
    tmp = Path(tempfile.mkdtemp())
    paths = gray_jpegs(photos, tmp, 24)
    planned = photos.inference_plan
    for name in models:
        model = load_model(name)
        one, plan = [], []
        for _ in range(4):
            photos.inference_plan = lambda device, workers: (1, None)
            one.append(time_end_to_end(model, paths, 1, 1))
            photos.inference_plan = planned
            plan.append(time_end_to_end(model, paths, 1, 1))
        print(
            f"{name}: one pass on all threads {statistics.median(one):.1f} images/s "
            f"{[round(x, 1) for x in one]} | bwcolor's plan {statistics.median(plan):.1f} "
            f"{[round(x, 1) for x in plan]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
