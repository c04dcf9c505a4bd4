"""Flicker, colour accuracy and speed of video colorization: each frame alone against stabilised.

    python scripts/films/measure_video.py OUT.json --photos ../shared/data/train --real CLIP.mp4 [--model M]

Colour clips whose ground truth is known are turned gray (their CIE L kept), written as H.264,
colorized by ``bwcolor.colorize_video`` once with ``carry=0`` (every frame alone) and once with
the default temporal smoothing, decoded, and scored against the true colour frames:

* flicker: the mean ab change between each frame and the previous frame's colour warped to it,
  by the true motion (generated clips) or by the motion estimated on the true colour frames where
  the forward and backward estimates agree (the real clip), over pixels that stay in view; frames
  at a cut are left out. The same measure on the true colours is printed beside it (real films'
  own colour change, e.g. lighting);
* CIEDE2000 to the true frames (mean over frames and pixels);
* frames per second end to end (decoding, network, stabiliser, merge, encoding), per clip.

Generated clips (``bwcolor.quality.synthetic``), 640x360, 24 fps, from validation photos of ``--photos``
(the 10% hash split, never trained on): a pan, a zoom, and a pan cut to a zoom of another photo.
``--real``: a real colour clip (e.g. the first 30 s of Big Buck Bunny), resized to ``--real-size``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from bwcolor import lab
from bwcolor.files.inputs import expand_inputs
from bwcolor.metrics import ciede2000
from bwcolor.models.checkpoint import load_model
from bwcolor.pipeline.films import colorize_video
from bwcolor.pipeline.temporal import CARRY, flicker, is_cut, reliable_flow, warp
from bwcolor.quality.synthetic import Clip, pan, write_clip, zoom
from bwcolor.training.dataset import content_hash, in_validation

SIZE = (360, 640)


def read_frames(
    path: Path, size: tuple[int, int] | None = None, limit: int | None = None
) -> list[np.ndarray]:
    import av

    frames = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            if size is not None and rgb.shape[:2] != size:
                rgb = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            frames.append(rgb)
            if limit and len(frames) >= limit:
                break
    return frames


def to_lab(rgb: np.ndarray) -> np.ndarray:
    return lab.rgb_to_lab(rgb.astype(np.float32) / 255)


def gray_frames(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame as the sRGB gray of its own CIE L (what a black-and-white film holds)."""
    out = []
    for f in frames:
        lum = to_lab(f)[..., 0]
        gray = lab.lab_to_rgb(np.dstack([lum, np.zeros_like(lum), np.zeros_like(lum)]))
        out.append(np.repeat((np.clip(gray[..., :1], 0, 1) * 255 + 0.5).astype(np.uint8), 3, axis=2))
    return out


def validation_photos(folder: str, count: int) -> list[np.ndarray]:
    sources, _ = expand_inputs([folder])
    chosen = [s.path for s in sources if in_validation(content_hash(s.path), 0.1)]
    photos = []
    for path in chosen:
        img = cv2.imread(str(path))
        if img is not None and img.ndim == 3:
            photos.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        if len(photos) == count:
            break
    return photos


def covering(photo: np.ndarray, height: int, width: int) -> np.ndarray:
    """The photo scaled (up if need be) to cover height x width."""
    scale = max(height / photo.shape[0], width / photo.shape[1])
    if scale <= 1:
        return photo
    return cv2.resize(photo, (round(photo.shape[1] * scale) + 1, round(photo.shape[0] * scale) + 1),
                      interpolation=cv2.INTER_CUBIC)  # fmt: skip


def generated_clips(photos: list[np.ndarray], frames: int) -> dict[str, Clip]:
    h, w = SIZE
    step = 2.0
    a, b, c = photos[0], photos[1], photos[2]
    return {
        "pan": pan(covering(a, h, w + int(step * frames) + 2), SIZE, frames, step),
        "zoom": zoom(covering(b, int(h * 1.6), int(w * 1.6)), SIZE, frames, 1.01),
        "pan, cut, zoom": pan(covering(c, h, w + int(step * frames // 2) + 2), SIZE, frames // 2, step)
        + zoom(covering(a, int(h * 1.6), int(w * 1.6)), SIZE, frames // 2, 1.01),
    }


def real_clip_flows(truth_lab: list[np.ndarray]) -> tuple[list, list]:
    """Estimated motion on the true frames, trusted pixels, and None at cuts."""
    flows, valids = [None], [None]
    for t in range(1, len(truth_lab)):
        lum, prev = truth_lab[t][..., 0], truth_lab[t - 1][..., 0]
        flow, trusted = reliable_flow(lum, prev)
        warped, inside = warp(prev, flow)
        cut = is_cut(lum, warped, inside, prev)
        flows.append(None if cut else flow)
        valids.append(None if cut else trusted)
    return flows, valids


def mean_flicker(labs: list[np.ndarray], flows, valids) -> float:
    """Mean flicker of Lab frames over the frames whose motion is known (not at a cut)."""
    values = [
        flicker(labs[t][..., 1:], labs[t - 1][..., 1:], flows[t], valids[t])
        for t in range(1, len(labs))
        if flows[t] is not None
    ]
    return float(np.nanmean(values))


def score(frames: list[np.ndarray], truth_lab: list[np.ndarray], flows, valids) -> dict[str, float]:
    got = [to_lab(f) for f in frames]
    assert len(got) == len(truth_lab), (len(got), len(truth_lab))
    de = [float(ciede2000(g, t).mean()) for g, t in zip(got, truth_lab, strict=True)]
    return {"flicker": mean_flicker(got, flows, valids), "ciede2000": float(np.mean(de))}


def measure(model, name: str, truth: list[np.ndarray], flows, valids, work: Path, fps: int,
            carry: float = CARRY) -> dict:  # fmt: skip
    truth_lab = [to_lab(f) for f in truth]
    src = write_clip(work / f"{name.replace(', ', '_')}.mp4", gray_frames(truth), fps=fps, crf=12)
    row = {"clip": name, "frames": len(truth), "size": f"{truth[0].shape[1]}x{truth[0].shape[0]}"}
    row["true flicker"] = mean_flicker(truth_lab, flows, valids)
    for label, smoothing in (("per frame", 0.0), ("stabilised", carry)):
        out = work / f"out_{smoothing}_{src.name}"
        start = time.perf_counter()
        result = colorize_video(model, src, out, carry=smoothing)
        seconds = time.perf_counter() - start
        row[label] = {**score(read_frames(out), truth_lab, flows, valids), "fps": result.frames / seconds,
                      "cuts": result.cuts}  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--photos", default="../shared/data/train")
    parser.add_argument("--real", type=Path)
    parser.add_argument("--real-size", default="640x360")
    parser.add_argument("--real-frames", type=int, default=720)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--model", default="effnet_unet")
    parser.add_argument("--carry", type=float, default=CARRY, help="the temporal smoothing measured")
    parser.add_argument("--no-generated", action="store_true", help="the real clip only")
    args = parser.parse_args()
    model = load_model(args.model)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = {} if args.no_generated else generated_clips(validation_photos(args.photos, 3), args.frames)
        for name, clip in clips.items():
            rows.append(measure(model, name, clip.frames, clip.flows, [None] * len(clip.flows), work, 24,
                                args.carry))  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
        if args.real is not None:
            w, h = (int(v) for v in args.real_size.split("x"))
            truth = read_frames(args.real, (h, w), args.real_frames)
            flows, valids = real_clip_flows([to_lab(f) for f in truth])
            rows.append(measure(model, args.real.name, truth, flows, valids, work, 24, args.carry))
            print(json.dumps(rows[-1]), flush=True)
    args.out.write_text(json.dumps({"model": args.model, "carry": args.carry, "rows": rows}, indent=1))
    print("| clip | frames | true flicker | flicker per frame | flicker stabilised | CIEDE2000 per frame "
          "| CIEDE2000 stabilised | frames/s per frame | frames/s stabilised |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        a, b = r["per frame"], r["stabilised"]
        print(
            f"| {r['clip']} ({r['size']}) | {r['frames']} | {r['true flicker']:.2f} | {a['flicker']:.2f} | "
            f"{b['flicker']:.2f} | {a['ciede2000']:.2f} | {b['ciede2000']:.2f} | {a['fps']:.1f} | {b['fps']:.1f} |"
        )


if __name__ == "__main__":
    main()
