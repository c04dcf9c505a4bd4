"""CIEDE2000 against colourfulness as a classes-head model's decoding sweeps, on validation photos.

For each (temperature T, prior weight alpha) the annealed mean of p(colour | image) /
p(colour)^alpha at temperature T (see ``bwcolor.models.colour_classes.ClassHead``) is merged with
each photo's full-resolution L exactly as ``bwcolor colorize`` does, and scored against the
photo. The network runs once per photo: only the decoding changes. Models without a classes head
(and the gray baseline) are swept over ``--saturation`` instead.

    python scripts/colour/sweep_decoding.py OUT.json --val ../shared/data/train --val-fraction 0.1 \\
        --model new=run/effnet_unet.safetensors --model old=weights/effnet_unet.safetensors \\
        --prior-from DATA [DATA ...]

``--prior-from`` gives the training folders whose colour frequencies make the prior (models
whose checkpoint already holds ``class_prior`` use theirs). ``--risk TAU [--risk-boost K]`` scores
a decoding that limits vivid wrong colour by the network's own odds (``decode_by_risk``; tried
for issue 22, not kept). Writes OUT.json (every point, with its mean metrics) and, with
``--plot``, the trade-off curves as a PNG.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bwcolor import lab, metrics
from bwcolor.errors import ImageError
from bwcolor.files.inputs import expand_inputs
from bwcolor.files.pixels import Picture
from bwcolor.image.colorize import colorized_pixels, luminance, network_input, normalisation_of
from bwcolor.models.checkpoint import load_model
from bwcolor.models.colour_classes import class_prior, hue_agreement
from bwcolor.quality.evaluate import ground_truth
from bwcolor.training import dataset

TEMPERATURES = (0.15, 0.25, 0.38, 0.5, 0.7, 1.0)
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 0.75)
SATURATIONS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)


def validation_paths(
    folders: list[str], fraction: float | None, limit: int | None, per_folder: int | None = None
) -> list[Path]:
    """The validation photos of ``folders`` (by hash, if ``fraction``): at most ``per_folder`` of
    each folder (spread over it), at most ``limit`` in all."""
    paths = []
    for folder in folders:
        sources, _ = expand_inputs([folder])
        mine = [s.path for s in sources]
        if fraction is not None:
            mine = [p for p in mine if dataset.in_validation(dataset.content_hash(p), fraction)]
        if per_folder and len(mine) > per_folder:
            mine = [mine[i] for i in np.linspace(0, len(mine) - 1, per_folder).astype(int)]
        paths += mine
    return paths[:limit] if limit else paths


def prior_from(folders: list[str], fraction: float, sample: int) -> list[float]:
    """The colour-class frequencies of the training photos of ``folders`` (validation left out),
    on an even sample across the folders."""
    per_folder = max(1, sample // len(folders))
    images = []
    for folder in folders:
        sources, _ = expand_inputs([folder])
        picked = sources[:: max(1, len(sources) // per_folder)][:per_folder]
        for s in picked:
            if dataset.in_validation(dataset.content_hash(s.path), fraction):
                continue
            try:
                rgb = ground_truth(s.path, None)
            except ImageError:
                continue
            images.append((lab.shrink(rgb, 128) // (257 if rgb.dtype == np.uint16 else 1)).astype(np.uint8))
    return class_prior(images, sample=len(images))


@torch.inference_mode()
def scores_of(model, picture: Picture, render_size: int | None = None, flip: bool = False):
    """What decoding needs: the class logits at the network's resolution, its input shape, and
    that input's L in Lab units (the guide of edge-aware upsampling). ``flip``: the logits
    averaged with those of the mirrored input, mirrored back (test-time augmentation)."""
    lum = luminance(picture).lum
    size = render_size or model.config.render_size
    norm = normalisation_of(model)
    x = torch.from_numpy(network_input(lum, size, norm))[None, None]
    guide = (x[0, 0].numpy() + norm.l_offset) * norm.l_scale
    logits = model(x.contiguous(memory_format=torch.channels_last), logits=True)
    if flip:
        mirrored = model(x.flip(-1).contiguous(memory_format=torch.channels_last), logits=True)
        logits = (logits + mirrored.flip(-1)) / 2
    return logits, x.shape[-2:], guide


def decode(model, logits, shape, temperature: float, prior_weight: float) -> np.ndarray:
    head = model.head
    head.temperature, head.prior_weight = temperature, prior_weight
    ab = F.interpolate(head.decode(logits), size=tuple(shape), mode="bilinear", align_corners=False)
    return normalisation_of(model).decode_ab(ab[0].permute(1, 2, 0).numpy())


def decode_by_hue_confidence(
    model, logits, shape, temperature: float, k: float, power: float = 1
) -> np.ndarray:
    """The annealed mean with its chroma scaled by ``1 + k * agreement**power`` (the head's
    ``hue_boost``: see ``ClassHead``)."""
    head = model.head
    kept = head.hue_boost, head.hue_power
    head.hue_boost, head.hue_power = k, power
    try:
        return decode(model, logits, shape, temperature, 0.0)
    finally:
        head.hue_boost, head.hue_power = kept


RISK_SCALES = np.round(np.arange(0.5, 2.51, 0.1), 2)


def vivid_risk(model, logits, guide, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel at the network's resolution: the annealed mean (Lab ab, (h, w, 2)) and, for each
    chroma scale in :data:`RISK_SCALES`, the probability under the network's own distribution
    (temperature 1) that the scaled colour would be vivid and wrong (``metrics.vivid_wrong_mask``'s
    rule, the class centres standing for the true colour): (len(RISK_SCALES), h, w)."""
    head = model.head
    head.temperature, head.prior_weight, kept = temperature, 0.0, head.hue_boost
    head.hue_boost = 0.0  # the plain annealed mean
    ab0 = normalisation_of(model).decode_ab(head.decode(logits)[0].permute(1, 2, 0).numpy())
    head.hue_boost = kept
    h, w = ab0.shape[:2]
    light = F.interpolate(torch.from_numpy(guide)[None, None].float(), size=(h, w), mode="area")[0, 0]
    p = torch.softmax(logits[0].float(), dim=0).reshape(len(head.centres), -1).numpy()  # (Q, P)
    centres = (head.centres * head.ab_scale).numpy()  # Lab units
    L = light.reshape(1, -1).numpy().repeat(len(centres), 0)
    truth = np.stack(
        [L, np.broadcast_to(centres[:, :1], L.shape), np.broadcast_to(centres[:, 1:], L.shape)], -1
    )
    risks = []
    for s in RISK_SCALES:
        ab = (s * ab0).reshape(1, -1, 2).repeat(len(centres), 0)
        wrong = metrics.vivid_wrong_mask(np.concatenate([L[..., None], ab], -1), truth)
        risks.append((p * wrong).sum(0).reshape(h, w))
    return ab0, np.stack(risks)


def hue_boost_scale(model, logits, temperature: float, k: float, power: float) -> np.ndarray:
    """The hue boost's chroma scale per pixel at the network's resolution (``ClassHead``)."""
    centres = model.head.centres
    p = torch.softmax(logits.float() / temperature, dim=1)
    agreement = hue_agreement(p, torch.einsum("bqhw,qc->bchw", p, centres), centres)
    return (1 + k * agreement**power)[0, 0].numpy()


def decode_by_risk(model, ab0, risks, shape, tau: float, ceiling=None) -> np.ndarray:
    """The annealed mean's chroma scaled per pixel by the largest of :data:`RISK_SCALES` whose
    risk of a vivid wrong colour is at most ``tau`` (the smallest, if none is), but not above
    ``ceiling`` (a scale per pixel, as the hue boost's), if given."""
    ok = risks <= tau
    index = np.where(ok.any(0), len(RISK_SCALES) - 1 - np.argmax(ok[::-1], axis=0), 0)
    scale = RISK_SCALES[index].astype(np.float32)
    if ceiling is not None:
        scale = np.minimum(scale, ceiling).astype(np.float32)
    ab = torch.from_numpy((ab0 * scale[..., None]).transpose(2, 0, 1))[None]
    return (
        F.interpolate(ab, size=tuple(shape), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
    )


def score(
    picture: Picture, ab: np.ndarray, truth: np.ndarray, saturation: float = 1.0, guide=None
) -> dict[str, float]:
    dtype = np.uint8 if truth.dtype == np.uint8 else np.uint16
    pred = colorized_pixels(picture, ab, saturation, dtype, guide)
    pred_lab = lab.rgb_to_lab(metrics.to_unit(pred).astype(np.float32))
    true_lab = lab.rgb_to_lab(metrics.to_unit(truth).astype(np.float32))
    delta_e = metrics.ciede2000(pred_lab, true_lab)
    vivid = metrics.vivid_wrong(pred_lab, true_lab, delta_e)
    return {
        "ciede2000": float(delta_e.mean()),
        "vivid_wrong": vivid,
        "vivid_wrong_photos": float(vivid > metrics.VIVID_PHOTO),
        "colourfulness": metrics.colourfulness(pred),
        "psnr": metrics.psnr(pred, truth),
        "mse_ab": metrics.mse_ab(pred_lab, true_lab),
    }


def sweep_classes(points, label, model, picture, truth, prior, args, render_size, flip=False) -> None:
    """Score every decoding of a classes-head model's one forward pass on ``picture``."""
    logits, shape, guide = scores_of(model, picture, render_size, flip)
    for t in args.temperatures:
        for a in args.prior_weights if prior is not None else (0.0,):
            ab = decode(model, logits, shape, t, a)
            for guided in (False, True) if args.guided else (False,):
                name = label + ("+guided" if guided else "")
                g = guide if guided else None
                points.setdefault((name, "temperature-prior", t, a), []).append(
                    score(picture, ab, truth, guide=g)
                )
                for sat in args.saturations:
                    scored = score(picture, ab, truth, saturation=sat, guide=g)
                    points.setdefault((f"{name}*{sat:g}", "temperature-prior", t, a), []).append(scored)
        if args.risk:
            ab0, risks = vivid_risk(model, logits, guide, t)
            for tau, k in [(tau, k) for tau in args.risk for k in args.risk_boost or [None]]:
                ceiling = None if k is None else hue_boost_scale(model, logits, t, k, args.hue_power[0])
                ab = decode_by_risk(model, ab0, risks, shape, tau, ceiling)
                name = f"{label}~{tau:g}" + ("" if k is None else f"^{k:g}")
                points.setdefault((name, "temperature", t), []).append(score(picture, ab, truth))
                for sat in args.saturations:
                    scored = score(picture, ab, truth, saturation=sat)
                    points.setdefault((f"{name}*{sat:g}", "temperature", t), []).append(scored)
        for k in args.hue_confidence:
            for power in args.hue_power:
                ab = decode_by_hue_confidence(model, logits, shape, t, k, power)
                name = f"{label}^{k:g}" + (f",c^{power:g}" if power != 1 else "")
                points.setdefault((name, "temperature", t), []).append(score(picture, ab, truth))
                for sat in args.saturations:
                    scored = score(picture, ab, truth, saturation=sat)
                    points.setdefault((f"{name}*{sat:g}", "temperature", t), []).append(scored)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--val", nargs="+", required=True)
    ap.add_argument("--val-fraction", type=float, default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument(
        "--per-folder", type=int, default=None, help="at most this many photos of each --val folder"
    )
    ap.add_argument("--model", action="append", default=[], help="LABEL=checkpoint (or a model name)")
    ap.add_argument("--prior-from", nargs="*", default=[])
    ap.add_argument("--prior-sample", type=int, default=3000)
    ap.add_argument("--temperatures", type=float, nargs="+", default=TEMPERATURES)
    ap.add_argument("--prior-weights", type=float, nargs="+", default=PRIOR_WEIGHTS)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--guided", action="store_true", help="also score edge-aware upsampling (label+guided)")
    ap.add_argument("--saturations", type=float, nargs="*", default=[],
                    help="also score classes-head decodings with their chroma scaled (label*S)")  # fmt: skip
    ap.add_argument("--hue-confidence", type=float, nargs="*", default=[],
                    help="also score the chroma scaled by 1 + K * hue confidence (label^K)")  # fmt: skip
    ap.add_argument("--hue-power", type=float, nargs="*", default=[1.0], help="the powers of c to try with K")
    ap.add_argument("--risk", type=float, nargs="*", default=[],
                    help="also score the chroma scaled as far as the risk of vivid wrong colour stays under TAU (label~TAU)")  # fmt: skip
    ap.add_argument("--risk-boost", type=float, nargs="*", default=[],
                    help="the risk decoding capped by the hue boost of these K (label~TAU^K)")  # fmt: skip
    ap.add_argument("--flip", action="store_true",
                    help="also score the logits averaged with the mirrored photo's (label+flip)")  # fmt: skip
    ap.add_argument("--render-sizes", type=int, nargs="*", default=[],
                    help="classes-head models rendered at these long sides (label@N) besides their own")  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(2)

    paths = validation_paths(args.val, args.val_fraction, args.limit, args.per_folder)
    models = {}
    for spec in args.model:
        label, _, ref = spec.partition("=")
        models[label] = load_model(ref)
        if (
            getattr(models[label], "head", None) is not None
        ):  # the saturations swept are the chroma scale itself (on top of any hue boost it ships)
            models[label].head.chroma = 1.0
    prior = None
    if args.prior_from:
        t0 = time.time()
        prior = prior_from(args.prior_from, 0.1, args.prior_sample)
        print(f"prior from {args.prior_sample} photos in {time.time() - t0:.0f} s", file=sys.stderr)
    points: dict[tuple, list[dict]] = {}
    used = 0
    for n, path in enumerate(paths):
        try:
            truth = ground_truth(path, None)
        except ImageError:
            continue
        used += 1
        picture = Picture(truth)  # colorized from its luminance, as bwcolor evaluate does
        points.setdefault(("gray", "none"), []).append(score(picture, np.zeros((8, 8, 2), np.float32), truth))
        for label, model in models.items():
            head = getattr(model, "head", None)
            if head is None:
                from bwcolor.image.colorize import predict_ab

                ab = predict_ab(model, network_input(luminance(picture).lum, model.config.render_size,
                                                     normalisation_of(model))[None])[0]  # fmt: skip
                for s in SATURATIONS:
                    points.setdefault((label, "saturation", s), []).append(score(picture, ab, truth, s))
                continue
            own_prior = getattr(model.config, "class_prior", None) or prior
            if own_prior is not None:
                head.log_prior = torch.log(torch.tensor(own_prior, dtype=torch.float32))
            for size in [model.config.render_size, *args.render_sizes]:
                name = label if size == model.config.render_size else f"{label}@{size}"
                for flip in (False, True) if args.flip else (False,):
                    tagged = name + ("+flip" if flip else "")
                    sweep_classes(points, tagged, model, picture, truth, own_prior, args, size, flip)
        print(f"{n + 1}/{len(paths)} {path.name}", file=sys.stderr, flush=True)
    rows = []
    for key, values in points.items():
        mean = {k: float(np.mean([v[k] for v in values if np.isfinite(v[k])])) for k in values[0]}
        rows.append(
            {"model": key[0], "knob": key[1], "setting": list(key[2:]), "images": len(values), **mean}
        )
    args.out.write_text(json.dumps({"images": used, "paths": [str(p) for p in paths], "prior": prior,
                                    "points": rows}, indent=1))  # fmt: skip
    for r in sorted(rows, key=lambda r: (r["model"], r["colourfulness"])):
        print(f"{r['model']:>10} {str(r['setting']):>14}  CIEDE2000 {r['ciede2000']:6.2f}  "
              f"colourfulness {r['colourfulness']:5.1f}  PSNR {r['psnr']:6.2f}  "
              f"vivid wrong {r['vivid_wrong']:5.2f}% ({r['vivid_wrong_photos']:.0%} of photos > 2%)")  # fmt: skip
    if args.plot:
        plot(rows, args.plot)


def plot(rows: list[dict], path: Path, marks: dict[str, float] | None = None) -> None:
    """CIEDE2000 against colourfulness: one curve per model and decoding (temperature, prior
    weight), through its saturations (``label*S`` rows), each point labelled with S and its share
    of vivid wrong pixels; ``marks`` (label -> saturation) rings a shipped setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=110)
    curves: dict[tuple, list[tuple[float, dict]]] = {}
    for r in rows:
        if r["model"] == "gray":
            ax.scatter([r["colourfulness"]], [r["ciede2000"]], c="gray", marker="s", s=50,
                       label="gray (a=b=0)", zorder=3)  # fmt: skip
            continue
        label, _, sat = r["model"].partition("*")
        curves.setdefault((label, tuple(r["setting"])), []).append((float(sat or 1), r))
    for (label, setting), points in curves.items():
        points.sort(key=lambda p: p[1]["colourfulness"])
        xs, ys = [p[1]["colourfulness"] for p in points], [p[1]["ciede2000"] for p in points]
        knob = f"T {setting[0]:g}" + (
            f", prior weight {setting[1]:g}" if len(setting) > 1 and setting[1] else ""
        )
        (line,) = ax.plot(xs, ys, marker="o", label=f"{label} ({knob}), saturation swept")
        for (sat, row), x, y in zip(points, xs, ys, strict=True):
            vivid = row.get("vivid_wrong")
            text = f"{sat:g}" + ("" if vivid is None else f" ({vivid:.1f}% vivid wrong)")
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
            if marks and marks.get(label) == sat:
                ax.scatter([x], [y], s=160, facecolors="none", edgecolors=line.get_color(), linewidths=2,
                           zorder=4)  # fmt: skip
    ax.set_xlabel("colourfulness (Hasler-Suesstrunk; the photos themselves: about 40)")
    ax.set_ylabel("mean CIEDE2000 to the colour original (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def replot() -> None:
    """``python scripts/colour/sweep_decoding.py --replot SWEEP.json OUT.png [LABEL=S ...]``: the plot of
    a finished sweep, with each LABEL's shipped saturation S ringed; given LABELs, only their
    curves (and gray) are drawn."""
    source, out, *marks = sys.argv[2:]
    rings = {m.split("=")[0]: float(m.split("=")[1]) for m in marks}
    rows = json.loads(Path(source).read_text())["points"]
    if rings:
        rows = [r for r in rows if r["model"] == "gray" or r["model"].partition("*")[0] in rings]
    plot(rows, Path(out), rings)


if __name__ == "__main__":
    replot() if sys.argv[1:2] == ["--replot"] else main()
