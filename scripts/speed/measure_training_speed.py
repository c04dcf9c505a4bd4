"""Training images per second of ``bwcolor train`` under several settings, each a short real run.

    python scripts/speed/measure_training_speed.py DATA [DATA ...] --batches 40 \
        --setting fp32:precision=fp32 --setting bf16:precision=bf16 \
        --setting bf16-b64:precision=bf16,batch_size=64,lr=2e-3

Every setting trains effnet_unet (160x160 crops, the encoder's last 2 blocks tuned, batch 32,
2 batch threads, unless the setting says otherwise) for one epoch of ``--batches`` batches into a
temporary folder, and reports the epoch's images per second (training time only: the cache is
filled by a first, unmeasured run) and the final training loss. ``OMP_NUM_THREADS`` and friends
apply to the whole process: run the script once per thread setting. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

from bwcolor.training.trainer import train

DEFAULTS = {
    "model": "effnet_unet",
    "image_size": 160,
    "render_size": 256,
    "tune_encoder_blocks": 2,
    "batch_size": 32,
    "lr": 1e-3,
    "workers": 2,
    "val_limit": 32,
    "checkpoint_minutes": 1e6,
}


def parse_setting(text: str) -> tuple[str, dict]:
    label, _, options = text.partition(":")
    values = {}
    for item in filter(None, options.split(",")):
        key, _, value = item.partition("=")
        try:
            values[key] = json.loads(value)
        except json.JSONDecodeError:
            values[key] = value
    return label, values


def run(data: list[str], batches: int, options: dict, cache: Path) -> dict:
    cfg = {**DEFAULTS, **options}
    cfg["max_per_source"] = batches * cfg["batch_size"] // len(data)
    with tempfile.TemporaryDirectory() as out:
        result = train(
            data=data, output=str(Path(out) / "m.safetensors"), epochs=1, cache_dir=str(cache), **cfg
        )
    record = result["history"][-1]
    return {"images_per_second": record["images_per_second"], "train_loss": record["train_loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", nargs="+")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--setting", action="append", required=True, help="LABEL:key=value,...")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "bwcolor-speed-cache")
    args = parser.parse_args()
    threads = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, {threads}", file=sys.stderr
    )
    run(args.data, 2, {}, args.cache_dir)  # fills the cache
    for text in args.setting:
        label, options = parse_setting(text)
        print(
            json.dumps({"setting": label, **options, **run(args.data, args.batches, options, args.cache_dir)})
        )


if __name__ == "__main__":
    main()
