"""How much colour hints help: CIEDE2000 and PSNR against the number of random hint points.

Each photo (held-out validation photos only: those `bwcolor train` keeps out by its content-hash
split) is colorized from its lightness with N points drawn from its own colours (random places,
a small patch's mean colour, fixed seed; `bwcolor evaluate --hint-points N` does the same), for
each N, each model, and each setting of the propagation (bwcolor.image.propagate: --edge, --fade,
--reach). Writes the means as JSON and, with --plot, the curves.

    python scripts/colour/measure_hints.py hints.json --data ../shared/data/train --val-fraction 0.1 \\
        --model effnet_unet --points 0 1 3 10 30 --plot docs/hints_vs_points.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

from bwcolor.cli import _eval_paths
from bwcolor.image import propagate
from bwcolor.models.checkpoint import load_model
from bwcolor.quality.evaluate import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="JSON file of the results")
    ap.add_argument("--data", nargs="+", required=True, help="folders of colour photos")
    ap.add_argument("--val-fraction", type=float, default=0.1, help="only the held-out share (default 0.1)")
    ap.add_argument("--per-folder", type=int, default=None, help="at most this many photos of each folder")
    ap.add_argument("--model", nargs="+", default=["effnet_unet"], help="models (names or checkpoints)")
    ap.add_argument("--points", nargs="+", type=int, default=[0, 1, 3, 10, 30])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--edge", nargs="+", type=float, default=[propagate.EDGE])
    ap.add_argument("--fade", nargs="+", type=float, default=[propagate.FADE])
    ap.add_argument("--reach", nargs="+", type=float, default=[propagate.REACH])
    ap.add_argument("--plot", type=Path, help="PNG of CIEDE2000 and PSNR against the number of points")
    args = ap.parse_args()

    paths = [p for folder in args.data for p in _eval_paths([folder], args.val_fraction, args.per_folder)]
    models = {Path(m).stem if m.endswith(".safetensors") else m: load_model(m) for m in args.model}
    results = []
    for edge, fade, reach in itertools.product(args.edge, args.fade, args.reach):
        propagate.EDGE, propagate.FADE, propagate.REACH = edge, fade, reach
        for n in args.points:
            start = time.perf_counter()
            means = evaluate(paths, models, hint_points=n, seed=args.seed).means()
            for name, m in means.items():
                row = {"model": name, "points": n, "edge": edge, "fade": fade, "reach": reach,
                       "images": m["images"], "ciede2000": m["ciede2000"], "psnr": m["psnr"],
                       "colourfulness": m["colourfulness"]}  # fmt: skip
                results.append(row)
                print(json.dumps(row), f"{time.perf_counter() - start:.0f} s", flush=True)
    args.out.write_text(json.dumps({"photos": len(paths), "data": args.data, "results": results}, indent=1))
    if args.plot:
        plot(results, args.plot)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for key, ax, label in (
        (("ciede2000"), axes[0], "CIEDE2000 (lower is better)"),
        ("psnr", axes[1], "PSNR dB"),
    ):
        for name in dict.fromkeys(r["model"] for r in results):
            rows = [r for r in results if r["model"] == name]
            xs = [max(r["points"], 0.5) for r in rows]
            ax.plot(xs, [r[key] for r in rows], "o-", label=name)
        ax.set_xscale("log")
        ax.set_xticks([0.5, 1, 3, 10, 30], ["0", "1", "3", "10", "30"])
        ax.set_xlabel("hint points per photo")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
