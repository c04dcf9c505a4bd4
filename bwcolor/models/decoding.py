"""Decoding settings: how a colour-classes model turns its predicted colour distribution into one
colour (see :class:`bwcolor.models.colour_classes.ClassHead`), set on the command line.

``bwcolor train --decoding chroma_scale=1.3`` builds the model with them; ``bwcolor info MODEL
--decoding chroma_scale=1.3 -o NEW.safetensors`` writes a copy of a checkpoint with them (the
weights unchanged), e.g. after choosing them on validation photos with scripts/colour/sweep_decoding.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from bwcolor.errors import UsageError

#: The settings, in the order ``bwcolor info`` shows them, with what each does.
DECODING = {
    "temperature": "softmax temperature of the annealed mean: lower is more colourful (0.38: Zhang et al.)",
    "prior_weight": "how much the training colours' frequencies are divided out (0: none)",
    "chroma_scale": "the decoded colour's chroma scaled by this",
    "hue_boost": "chroma also scaled by 1 + hue_boost * agreement^hue_power, where the classes agree on a hue",
    "hue_power": "the power of that agreement",
}


def parse_decoding(items: list[str] | None) -> dict[str, float]:
    """``["chroma_scale=1.3", ...]`` -> ``{"chroma_scale": 1.3}``; :class:`UsageError` naming the
    item if it is not KEY=NUMBER with a known KEY."""
    settings = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in DECODING:
            raise UsageError(f"--decoding {item}: give KEY=VALUE, KEY one of {', '.join(DECODING)}")
        try:
            settings[key] = float(value)
        except ValueError:
            raise UsageError(f"--decoding {item}: {value!r} is not a number") from None
    return settings


def check_decoding(model: str, config: dict) -> None:
    """:class:`UsageError` if ``model`` has no such settings or ``config``'s values are out of range."""
    from bwcolor.models.checkpoint import config_problem
    from bwcolor.models.registry import model_class

    fields = model_class(model).Config.__dataclass_fields__
    missing = [k for k in DECODING if k in config and k not in fields]
    if missing:
        raise UsageError(
            f"--decoding: {model} has no decoding settings ({missing[0]}): it predicts one colour"
        )
    if config.get("head", "classes") != "classes" and any(
        k in config for k in DECODING if k != "chroma_scale"
    ):
        raise UsageError("--decoding: a regression head decodes no distribution (only chroma_scale applies)")
    problem = config_problem(model, config)
    if problem:
        raise UsageError(f"--decoding: {problem}")


def write_with_decoding(src: str | Path, dst: str | Path, settings: dict[str, float], note: str = "") -> Path:
    """A copy of checkpoint ``src`` (or a shipped model) at ``dst`` decoding with ``settings``;
    the weights and the rest of the header unchanged, but for a resumable run's state (the copy is
    a model). Never writes over ``src``."""
    from safetensors import safe_open
    from safetensors.torch import save

    from bwcolor.files.atomic import write_atomic
    from bwcolor.models.checkpoint import load_model, resolve_model_path

    src, dst = resolve_model_path(src), Path(dst)
    if not settings:
        raise UsageError("-o writes a copy with new decoding settings: give them with --decoding KEY=VALUE")
    if dst.suffix != ".safetensors":
        raise UsageError(f"-o {dst}: a checkpoint's name ends in .safetensors")
    if dst.exists() and dst.resolve() == src.resolve():
        raise UsageError(f"-o {dst} is the checkpoint itself: give another file name")
    with safe_open(str(src), framework="pt") as f:
        header = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("extra/")}
    config, meta = json.loads(header["config"]), json.loads(header.get("meta", "{}"))
    config.update(settings)
    check_decoding(header["model"], config)
    meta.pop("train_state", None), meta.pop("optimizer", None)
    meta["decoding"] = {**{k: config.get(k) for k in DECODING if k in config}, "from": src.name, "note": note}
    header["config"], header["meta"] = json.dumps(config), json.dumps(meta)
    write_atomic(dst, save(tensors, metadata=header))
    load_model(dst)  # the copy loads, with its settings
    return dst
