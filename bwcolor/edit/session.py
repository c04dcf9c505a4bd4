"""What ``bwcolor edit`` does with a photo: previews with hints, suggested colours, saving.

:class:`EditSession` holds the photos it was given (by index: nothing a browser sends is ever a
path) and one model. For each photo it keeps what the network found without hints (its ab at
the network's resolution and, for a model that predicts a colour distribution, that
distribution), so that a new hint costs the spreading and the merge, not a forward pass (a model
with hint inputs runs again, at its own resolution). Saving writes the photo's hint files beside
it (the formats of :mod:`bwcolor.files.hints`) and, if asked, its output through the same code as
``bwcolor colorize`` (format, bit depth, metadata, provenance, atomic write, never over an input).
The HTTP layer is :mod:`bwcolor.edit.server`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from bwcolor import lab
from bwcolor.errors import ImageError
from bwcolor.files.atomic import write_atomic
from bwcolor.files.decode import DEFAULT_MAX_PIXELS, read_image
from bwcolor.files.formats import is_image_path, is_video_path
from bwcolor.files.hints import (
    JSON_SUFFIX,
    PNG_SUFFIX,
    HintError,
    Hints,
    hint_files_for,
    point_items,
    points_from,
    read_hints,
    strokes_from_png,
)
from bwcolor.files.inputs import Source
from bwcolor.files.pixels import Picture, to_float
from bwcolor.image import colorize as core
from bwcolor.pipeline import jobs, photos
from bwcolor.pipeline.jobs import FilmOptions
from bwcolor.shipped import DEFAULT_MODEL

#: Suggested colours at a click: at most this many, at least SUGGESTION_SPREAD apart (Lab a, b).
SUGGESTIONS = 6
SUGGESTION_SPREAD = 12.0
#: A preview's long side at most (the full-size merge is for saving).
PREVIEW_SIDE = 2048


@dataclass
class _Photo:
    source: Source
    picture: Picture | None = None
    net_input: np.ndarray | None = None  # normalised L at the network's resolution
    auto_ab: np.ndarray | None = None  # the network's ab without hints
    small: Picture | None = None  # the picture at preview size


class EditSession:
    """The photos of one ``bwcolor edit`` and the model that colours them."""

    def __init__(self, sources: list[Source], model: nn.Module, options: jobs.Options):
        self.photos = [_Photo(s) for s in sources]
        self.model = model
        self.options = options
        self.norm = core.normalisation_of(model)
        self.render_size = core.render_size_of(model, options.render_size)
        self._lock = threading.Lock()  # one forward pass at a time; photos load once

    def __len__(self) -> int:
        return len(self.photos)

    def _load(self, index: int) -> _Photo:
        photo = self.photos[index]
        with self._lock:
            if photo.picture is None:
                picture = read_image(photo.source.path, self.options.max_pixels)
                lum = core.luminance(picture).lum
                photo.net_input = core.network_input(lum, self.render_size, self.norm)
                photo.auto_ab = core.predict_ab(self.model, photo.net_input[None])[0]
                photo.small = _shrunk(picture, PREVIEW_SIDE)
                photo.picture = picture
        return photo

    def describe(self, index: int) -> dict:
        """The photo's name, size and the hints saved beside it (points; whether strokes)."""
        photo = self._load(index)
        pic = photo.picture
        info = {"index": index, "name": str(photo.source.relative), "width": pic.width, "height": pic.height}
        points, strokes = [], False
        for path in hint_files_for(photo.source.path):
            if path.name.endswith(PNG_SUFFIX):
                strokes = True
                continue
            try:
                saved = read_hints([path], pic.width, pic.height).points
            except HintError as exc:
                info["hint_problem"] = f"{exc} (not loaded; saving replaces it)"
                continue
            points = [{"x": p.x, "y": p.y, "color": p.color, "radius": p.radius} for p in saved]
        return info | {"points": points, "strokes": strokes}

    def gray_jpeg(self, index: int) -> bytes:
        """The photo as it came (upright), at preview size, as JPEG."""
        small = self._load(index).small
        rgb = small.pixels if small.pixels.ndim == 3 else np.repeat(small.pixels[..., None], 3, 2)
        return _jpeg(rgb)

    def strokes_png(self, index: int) -> bytes | None:
        """The strokes file saved beside the photo, as it is (None if there is none)."""
        path = self.photos[index].source.path
        strokes = path.with_name(path.stem + PNG_SUFFIX)
        return strokes.read_bytes() if strokes.is_file() else None

    def hints(self, index: int, points: list, strokes_png: bytes | None) -> Hints:
        """Hints from what the page sends; :class:`HintError` if they cannot be used."""
        pic = self._load(index).picture
        items = point_items({"points": points})  # the keys a points file may have, checked alike
        hints = Hints(pic.width, pic.height, points=points_from(items, pic.width, pic.height))
        if strokes_png:
            hints.strokes = strokes_from_png(strokes_png, pic.width, pic.height)
        return hints

    def colour_ab(self, index: int, hints: Hints) -> np.ndarray:
        """The photo's ab at the network's resolution with ``hints``."""
        photo = self._load(index)
        ab = photo.auto_ab
        if hints and core.takes_hints(self.model):
            h, w = photo.net_input.shape
            with self._lock:
                channels = core.hint_channels([hints], h, w, self.norm)
                ab = core.predict_ab(self.model, photo.net_input[None], channels)[0]
        return core.with_hints(photo.net_input, ab, hints, self.norm)

    def preview_jpeg(self, index: int, hints: Hints) -> bytes:
        """The photo colorized with ``hints``, at preview size, as JPEG."""
        photo = self._load(index)
        ab = self.colour_ab(index, hints)
        return _jpeg(core.colorized_pixels(photo.small, ab, self.options.saturation, np.uint8))

    def suggest(self, index: int, x: float, y: float) -> list[dict]:
        """Colours the model finds likely at (x, y) of the photo, most likely first, as
        ``{"color": "#rrggbb", "p": probability}`` (p is None for the model's own colour where it
        predicts no distribution); each at the photo's lightness there."""
        photo = self._load(index)
        pic = photo.picture
        if not (0 <= x < pic.width and 0 <= y < pic.height):
            raise HintError(f"({x:g}, {y:g}) is outside the {pic.width}x{pic.height} photo")
        h, w = photo.net_input.shape
        row, col = min(h - 1, int(y * h / pic.height)), min(w - 1, int(x * w / pic.width))
        lum = float(self.norm.decode_l(photo.net_input[row, col]))
        found = [(photo.auto_ab[row, col], None)]
        for ab, p in self._distribution(photo, row / h, col / w):
            if all(np.hypot(*(ab - other)) >= SUGGESTION_SPREAD for other, _ in found):
                found.append((ab, p))
            if len(found) == SUGGESTIONS:
                break
        return [{"color": _hex(lum, ab), "p": None if p is None else round(p, 4)} for ab, p in found]

    def _distribution(self, photo: _Photo, fy: float, fx: float) -> list[tuple[np.ndarray, float]]:
        """The model's colour classes at a place (as fractions of the picture), likeliest first;
        empty for a model that predicts one colour."""
        head = getattr(self.model, "head", None)
        if head is None or not hasattr(head, "centres"):
            return []
        with self._lock, torch.inference_mode():
            x = torch.from_numpy(photo.net_input)[None, None].to(core.model_device(self.model))
            logits = self.model(x, logits=True)[0].float()
        q, h, w = logits.shape
        probs = torch.softmax(logits[:, min(h - 1, int(fy * h)), min(w - 1, int(fx * w))], 0).cpu().numpy()
        centres = head.centres.float().cpu().numpy() * self.norm.ab_scale
        return [(centres[i], float(probs[i])) for i in np.argsort(-probs)]

    def save(self, index: int, hints: Hints, write_output: bool) -> dict:
        """Write the photo's hint files (and remove one the hints no longer need); with
        ``write_output``, colorize it as ``bwcolor colorize`` would, replacing an earlier output.
        Returns what was written."""
        photo = self.photos[index]
        path = photo.source.path
        json_path, png_path = (path.with_name(path.stem + s) for s in (JSON_SUFFIX, PNG_SUFFIX))
        written = []
        points = [{"x": p.x, "y": p.y, "color": p.color, "radius": p.radius} for p in hints.points]
        if points or json_path.exists():
            write_atomic(json_path, (json.dumps({"points": points}, indent=1) + "\n").encode())
            written.append(str(json_path))
        if hints.strokes is not None and hints.strokes[..., 3].any():
            ok, png = cv2.imencode(".png", hints.strokes[..., [2, 1, 0, 3]])
            write_atomic(png_path, png.tobytes())
            written.append(str(png_path))
        elif png_path.exists():
            png_path.unlink()
        result = {"hint_files": written, "output": None}
        if write_output:
            result["output"] = self._write_output(photo)
        return result

    def _write_output(self, photo: _Photo) -> str:
        options = dataclasses.replace(self.options, overwrite=True, hint_files=True, hint_file=None)
        todo, settled = jobs.plan([photo.source], options)
        results = [r for r in settled if r.status == "failed"]
        if not results:
            results = []
            photos.run_jobs(todo, self.model, options, on_result=results.append)
        if results[0].status != "done":
            raise ImageError(results[0].message)
        return results[0].output


def open_session(
    inputs: list[str | Path],
    output: str | Path | None = None,
    model: str = DEFAULT_MODEL,
    *,
    device: str = "auto",
    precision: str = "auto",
    render_size: int | None = None,
    saturation: float = 1.0,
    backbone_weights: str | None = None,
    recursive: bool = True,
) -> EditSession:
    """An edit session over the photos ``inputs`` name (files, folders, globs; films are not
    edited), its outputs going where ``bwcolor colorize`` would put them (``output``, default
    ``colorized``). :class:`~bwcolor.errors.UsageError` if there is no photo."""
    from bwcolor.device import resolve_device
    from bwcolor.errors import UsageError
    from bwcolor.files.inputs import expand_inputs
    from bwcolor.models.checkpoint import load_model
    from bwcolor.pipeline.folders import colorize_options

    if output is not None and (is_image_path(Path(output)) or is_video_path(Path(output))):
        raise UsageError(f"--output {output}: bwcolor edit writes into a folder; give a folder")
    options, model_ref = colorize_options(
        output, model, suffix=None, include_colorized=False, fmt=None, device=device, precision=precision,
        hints=None, colour_inputs="colorize", hint_files=True, overwrite=True, batch_size=1, workers=1,
        render_size=render_size, saturation=saturation, temporal_smoothing=0.0, film=FilmOptions(), quality=95,
        max_pixels=DEFAULT_MAX_PIXELS, provenance=True,
    )  # fmt: skip
    sources, problems = expand_inputs([str(i) for i in inputs], recursive=recursive, exclude=options.out_dir)
    failed = [p for p in problems if p.status == "failed"]
    if not sources:
        causes = "; ".join(f"{p.input}: {p.message}" for p in failed) or "no photos"
        raise UsageError(f"nothing to edit ({causes})")
    net = load_model(model_ref, resolve_device(device), backbone_weights, precision)
    return EditSession(sources, net, options)


def _hex(lum: float, ab: np.ndarray) -> str:
    rgb = lab.lab_to_rgb(np.array([[[lum, ab[0], ab[1]]]], np.float32))[0, 0]
    return "#" + "".join(f"{round(float(c) * 255):02x}" for c in rgb)


def _shrunk(picture: Picture, side: int) -> Picture:
    """The picture with its long side at most ``side`` (8-bit), for previews."""
    px = picture.pixels
    if px.dtype != np.uint8:
        px = (to_float(px) * 255 + 0.5).astype(np.uint8)
    return Picture(lab.shrink(px, side))


def _jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes()
