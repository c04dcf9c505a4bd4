"""A training run's learning curve: validation CIEDE2000 and cross-entropy against the training
crops seen, on a log axis, one point per epoch (its validation), from ``bwcolor train``'s log.

    python scripts/figures/plot_learning_curve.py runs/long/run/effnet_unet.log.jsonl docs/long_run_curve.png \\
        --then runs/long/run224/effnet_unet.log.jsonl --then-offset 533456 --then-label "224x224 stage"

A resumed run appends to the same log; each line's ``images`` counts the crops seen since the
run began. ``--then`` adds a later stage (its own log, its crops counted after ``--then-offset``
crops of the first) in its own colour: its validation may be measured otherwise (other crops),
so its points are not joined to the first stage's. Also prints the gain per doubling of crops
seen (CIEDE2000, a least-squares line through the points against log2 of the crops).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--title", default="effnet_unet, the long run (hint inputs, 160x160 crops)")
    ap.add_argument("--then", type=Path, default=None, help="a later stage's log")
    ap.add_argument("--then-offset", type=int, default=0, help="crops seen before the later stage")
    ap.add_argument("--then-label", default="later stage")
    args = ap.parse_args()
    rows = read_log(args.log)
    seen = np.array([r["images"] for r in rows], dtype=float)
    ciede = np.array([r["val_ciede2000"] for r in rows])
    loss = np.array([r["val_loss"] for r in rows])
    hints = np.array([r.get("val_loss_hints") or np.nan for r in rows])
    half = len(rows) // 2
    slope_all = np.polyfit(np.log2(seen), ciede, 1)[0]
    slope_late = np.polyfit(np.log2(seen[half:]), ciede[half:], 1)[0] if len(rows) - half >= 2 else np.nan
    print(
        f"{len(rows)} epochs, {seen[-1]:,.0f} crops; CIEDE2000 {ciede[0]:.2f} -> {ciede[-1]:.2f} (best {ciede.min():.2f});"
    )
    print(
        f"per doubling of crops: {slope_all:+.3f} CIEDE2000 over all epochs, {slope_late:+.3f} over the last half"
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), dpi=110, sharex=True)
    top.plot(seen, ciede, "o-", color="tab:blue")
    top.set_ylabel("validation CIEDE2000")
    top.set_title(args.title, fontsize=10)
    bottom.plot(seen, loss, "o-", color="tab:red", label="no hints")
    if np.isfinite(hints).any():
        bottom.plot(seen, hints, "s--", color="tab:green", label="with random hints")
        bottom.legend(fontsize=8)
    if args.then:
        later = read_log(args.then)
        x = [args.then_offset + r["images"] for r in later]
        top.plot(x, [r["val_ciede2000"] for r in later], "D-", color="tab:purple", label=args.then_label)
        bottom.plot(
            x, [r["val_loss"] for r in later], "D-", color="tab:purple", label=f"{args.then_label}, no hints"
        )
        if any(r.get("val_loss_hints") for r in later):
            hinted = [r.get("val_loss_hints") or np.nan for r in later]
            bottom.plot(x, hinted, "D--", color="tab:olive", label=f"{args.then_label}, random hints")
        top.legend(["160x160 stage", args.then_label], fontsize=8)
        bottom.legend(fontsize=8)
    bottom.set_ylabel("validation cross-entropy")
    bottom.set_xlabel("training crops seen (log scale)")
    bottom.set_xscale("log")
    for ax in (top, bottom):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
