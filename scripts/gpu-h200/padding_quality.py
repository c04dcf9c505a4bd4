"""Quality with the network input padded to multiples of 64 (what CUDA does) vs not, on the CPU.

python scripts/gpu-h200/padding_quality.py effnet_unet fusion baseline
"""

import json
import sys

from bwcolor import load_model
from bwcolor.cli import _eval_paths
from bwcolor.image import colorize
from bwcolor.quality.evaluate import evaluate

paths = _eval_paths(["../shared/data/train"], 0.1, None)
names = sys.argv[1:]
for step in (None, 64):
    if step:
        colorize.SHAPE_STEP["cpu"] = step
    models = {n: load_model(n, "cpu") for n in names}
    res = evaluate(paths, models)
    print(json.dumps({"step": step, "n": len(paths) - len(res.skipped), "means": res.means()}), flush=True)
