"""Write a classes-head checkpoint's decoding settings, chosen on validation photos.

    python scripts/colour/set_decoding.py IN.safetensors OUT.safetensors --temperature T --prior-weight A \\
        [--chroma S] [--hue-boost K --hue-power P] [--prior-from DATA ...] [--note TEXT]

Copies IN with its config's ``temperature``, ``prior_weight``, ``chroma_scale``, ``hue_boost`` and
``hue_power`` set (see ``bwcolor.models.colour_classes.ClassHead``; and ``class_prior`` counted
on the training folders DATA, as ``bwcolor train`` counts it, if IN has none); the weights are
unchanged. The header's meta records the change and ``--note`` (e.g. how the setting was chosen).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save

from bwcolor.files.atomic import write_atomic
from bwcolor.models.checkpoint import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--temperature", type=float, required=True)
    ap.add_argument("--prior-weight", type=float, required=True)
    ap.add_argument("--chroma", type=float, default=1.0, help="the decoded colour's scale (saturation)")
    ap.add_argument("--hue-boost", type=float, default=0.0, help="chroma also scaled by 1 + K * agreement^P")
    ap.add_argument("--hue-power", type=float, default=1.0, help="P, with --hue-boost")
    ap.add_argument("--prior-from", nargs="*", default=[])
    ap.add_argument("--prior-sample", type=int, default=3000)
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    with safe_open(str(args.src), framework="pt") as f:
        header = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("extra/")}
    config, meta = json.loads(header["config"]), json.loads(header["meta"])
    if not config.get("class_prior"):
        if not args.prior_from:
            raise SystemExit(f"{args.src} holds no class_prior: give --prior-from the training folders")
        from sweep_decoding import prior_from

        config["class_prior"] = prior_from(args.prior_from, 0.1, args.prior_sample)
    config["temperature"], config["prior_weight"] = args.temperature, args.prior_weight
    config["chroma_scale"] = args.chroma
    config["hue_boost"], config["hue_power"] = args.hue_boost, args.hue_power
    meta.pop("train_state", None), meta.pop("optimizer", None)  # a model, not a resumable run
    meta["decoding"] = {"temperature": args.temperature, "prior_weight": args.prior_weight,
                        "chroma_scale": args.chroma, "hue_boost": args.hue_boost,
                        "hue_power": args.hue_power, "note": args.note}  # fmt: skip
    header["config"], header["meta"] = json.dumps(config), json.dumps(meta)
    write_atomic(args.dst, save(tensors, metadata=header))
    model = load_model(args.dst)  # the result loads, with the settings
    head = model.head
    print(
        f"{args.dst}: temperature {head.temperature}, prior weight {head.prior_weight}, chroma {head.chroma},"
        f" hue boost {head.hue_boost} (power {head.hue_power})"
    )


if __name__ == "__main__":
    main()
