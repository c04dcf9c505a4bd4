"""Colorizing one image: L in, predicted ab out, recombined with the full-resolution L.

The network sees an aspect-preserving resize of L (long side = the model's render size, sides
multiples of 8); its ab prediction is upsampled bilinearly to the original size and merged with
the ORIGINAL L, so no detail or resolution is lost and the output's lightness is the input's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bwcolor import lab
from bwcolor.device import autocast
from bwcolor.errors import UsageError
from bwcolor.files.hints import Hints, as_hints
from bwcolor.files.pixels import Picture, from_float, to_float

#: Mean Lab chroma above which an input counts as already colour (or toned, e.g. sepia).
COLOUR_CHROMA = 3.0


@dataclass
class Luminance:
    """What the network needs of a picture: its full-resolution L and whether it had colour."""

    lum: np.ndarray  # (H, W) float32, CIE L in [0, 100]
    had_colour: bool


def luminance(picture: Picture) -> Luminance:
    """Full-resolution CIE L of a picture; colour or toned inputs give their luminance."""
    px = picture.pixels
    if px.ndim == 2:
        return Luminance(lab.lightness_of_gray(px), False)
    lum = np.empty(px.shape[:2], np.float32)
    for r0 in range(0, len(lum), BAND_ROWS):  # in bands: no full-size float RGB or Lab copy
        lum[r0 : r0 + BAND_ROWS] = lightness_rows(px[r0 : r0 + BAND_ROWS])
    return Luminance(lum, lab.mean_chroma(to_float(lab.shrink(px, 256))) > COLOUR_CHROMA)


def check_rendering(render_size: int | None = None, saturation: float = 1.0) -> None:
    """:class:`UsageError` for a render size or saturation no model can colour with: the same
    checks for Python callers as for the command line, before any file is read."""
    if render_size is not None and (
        not isinstance(render_size, int)
        or render_size % lab.SIZE_MULTIPLE
        or not 16 <= render_size <= lab.MAX_RENDER_SIZE
    ):
        raise UsageError(
            f"--render-size {render_size}: must be a multiple of {lab.SIZE_MULTIPLE} between 16 and {lab.MAX_RENDER_SIZE}"
        )
    if not 0.0 <= saturation <= lab.MAX_SATURATION:
        raise UsageError(f"--saturation {saturation:g}: must be between 0 and {lab.MAX_SATURATION:g}")


def render_size_of(model: nn.Module, render_size: int | None = None) -> int:
    return int(render_size or model.config.render_size)


def network_input(lum: np.ndarray, render_size: int, norm: lab.Normalisation) -> np.ndarray:
    """Normalised L (h, w) at the network's aspect-preserving render shape."""
    h, w = lab.render_shape(*lum.shape, render_size)
    return norm.encode_l(lab.resize(lum, h, w))


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


#: Per device type, the multiple the network's input sides are padded to. On CUDA, cuDNN
#: prepares its kernels for each new input shape: a first forward pass at a new shape took 1-3 s
#: for effnet_unet on an H200 (then 5.5-8.3 ms), so a folder of photos of many aspect ratios crawled
#: (2.5 images/s against about 200 for one shape; docs/benchmarks.md). Padded to multiples of
#: 64, a render size of 256 gives at most 7 shapes. Elsewhere new shapes cost milliseconds.
SHAPE_STEP = {"cuda": 64}


def pad_to_step(x: torch.Tensor, step: int) -> torch.Tensor:
    """(B, C, h, w) padded at the bottom and right to multiples of ``step``: mirrored where the
    picture is large enough, its edge repeated where not."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % step, -w % step
    if not pad_h and not pad_w:
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


@torch.inference_mode()
def predict_ab(model: nn.Module, inputs: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
    """Normalised L batch (B, h, w) of one shape -> ab in Lab units (B, h, w, 2).

    ``hints`` (B, 3, h, w): :func:`hint_channels` for a model that :func:`takes_hints`.
    """
    device = model_device(model)
    x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))[:, None].to(device)
    h, w = x.shape[-2:]
    step = SHAPE_STEP.get(device.type, 1)
    x = pad_to_step(x, step).contiguous(memory_format=torch.channels_last)
    extra = {}
    if hints is not None:
        extra["hints"] = pad_to_step(
            torch.from_numpy(np.ascontiguousarray(hints, np.float32)).to(device), step
        )
    with autocast(precision_of(model), device):
        out = model(x, **extra)[..., :h, :w].float().permute(0, 2, 3, 1).cpu().numpy()
    return normalisation_of(model).decode_ab(out)


def takes_hints(model: nn.Module) -> bool:
    """Whether the network has colour-hint inputs (trained with ``--hint-inputs``)."""
    return bool(getattr(getattr(model, "config", None), "hint_inputs", False))


def hint_channels(hints: list[Hints | None], h: int, w: int, norm: lab.Normalisation) -> np.ndarray:
    """The network's hint inputs (B, 3, h, w) for a batch: normalised ab and the mask (zeros
    for a photo without hints)."""
    out = np.zeros((len(hints), 3, h, w), np.float32)
    for i, given in enumerate(hints):
        if given:
            ab, weight = given.raster(h, w)
            mask = weight >= 0.5
            out[i, :2] = norm.encode_ab(ab).transpose(2, 0, 1) * mask
            out[i, 2] = mask
    return out


def with_hints(
    net_input: np.ndarray, ab: np.ndarray, hints: Hints | None, norm: lab.Normalisation
) -> np.ndarray:
    """The predicted ab (h, w, 2) with the hints spread over it along the lightness
    (:func:`bwcolor.image.propagate.propagate`); every model takes hints this way, and a model with
    hint inputs has them pinned exactly where they were given."""
    if not hints:
        return ab
    from bwcolor.image.propagate import propagate

    h, w = ab.shape[:2]
    if net_input.shape != (h, w):  # predicted at another size (a retry at half the render size)
        net_input = lab.resize(net_input, h, w)
    hint_ab, weight = hints.raster(h, w)
    return propagate(norm.decode_l(net_input), ab, hint_ab, weight)


def precision_of(model: nn.Module) -> str:
    """The arithmetic of the model's forward pass (``load_model``'s ``precision``)."""
    return getattr(model, "precision", "fp32")


def normalisation_of(model: nn.Module) -> lab.Normalisation:
    return getattr(model, "normalisation", None) or lab.Normalisation()


#: Rows merged at a time: bounds the working memory of a huge scan (see docs/reliability.md).
BAND_ROWS = 256


def lightness_rows(pixels: np.ndarray) -> np.ndarray:
    """CIE L (rows, W) of a band of gray or RGB pixels; identical to :func:`luminance`'s."""
    if pixels.ndim == 2:
        return lab.lightness_of_gray(pixels)
    return lab.rgb_to_lab(to_float(pixels))[..., 0].copy()


def colorized_pixels(
    picture: Picture,
    ab_small: np.ndarray,
    saturation: float = 1.0,
    dtype: np.dtype | None = None,
    guide: np.ndarray | None = None,
) -> np.ndarray:
    """The colorized picture (H, W, 3): predicted ab upsampled and merged with the full-resolution L.

    ``dtype``: the output type; default the input's integer type (16-bit in, 16-bit out), or
    float32 in [0, 1]. Works in bands of :data:`BAND_ROWS` rows, so the only full-size array
    besides the input is the output itself.

    ``guide``: L (Lab units) at ``ab_small``'s resolution; given, the colour is upsampled
    edge-aware (:func:`bwcolor.lab.guided_coefficients`) instead of bilinearly.

    ``saturation`` scales the predicted chroma (1: the model's own prediction). MSE-trained models
    predict the mean of the plausible colours, which is duller than any of them; a factor above 1
    trades colour accuracy for colourfulness (see docs/models.md for measured effects).
    """
    if dtype is None:
        dtype = np.uint8 if picture.pixels.dtype == np.uint8 else np.uint16
    if saturation != 1.0:
        ab_small = ab_small * np.float32(saturation)
    height, width = picture.height, picture.width
    out = np.empty((height, width, 3), dtype)
    if guide is None:
        tall = lab.heighten_ab(ab_small, height)
    else:  # edge-aware: upsample the guided filter's A and B, then ab = A * L + B at full size
        coef_a, coef_b = lab.guided_coefficients(guide, ab_small)
        tall_a, tall_b = lab.heighten_ab(coef_a, height), lab.heighten_ab(coef_b, height)
    for r0 in range(0, height, BAND_ROWS):
        rows = slice(r0, min(height, r0 + BAND_ROWS))
        lum = lightness_rows(picture.pixels[rows])
        if guide is None:
            ab = lab.ab_rows(tall, width, rows)
        else:
            ab = lab.ab_rows(tall_a, width, rows) * lum[..., None] + lab.ab_rows(tall_b, width, rows)
        rgb = lab.merge_lab(lum, ab)
        out[rows] = rgb if np.dtype(dtype).kind == "f" else from_float(rgb, dtype)
    return out


def colorize_rgb(
    model: nn.Module,
    picture: Picture,
    render_size: int | None = None,
    saturation: float = 1.0,
    dtype: np.dtype | None = np.float32,
    hints: Hints | None = None,
) -> np.ndarray:
    """One picture through the whole path: its L -> network -> ab merged with full-resolution L.

    Returns sRGB (H, W, 3): float32 in [0, 1] by default, or ``dtype`` (None: the input's integer
    type). ``hints``: known colours (:mod:`bwcolor.files.hints`). ``bwcolor colorize`` runs the same
    steps, batched.
    """
    lum = luminance(picture).lum
    norm = normalisation_of(model)
    net_input = network_input(lum, render_size_of(model, render_size), norm)
    h, w = net_input.shape
    channels = hint_channels([hints], h, w, norm) if hints and takes_hints(model) else None
    ab = predict_ab(model, net_input[None], channels)[0]
    return colorized_pixels(picture, with_hints(net_input, ab, hints, norm), saturation, dtype)


def colorize_image(
    model: nn.Module,
    image: np.ndarray,
    render_size: int | None = None,
    saturation: float = 1.0,
    hints=None,
) -> np.ndarray:
    """Colorize an image array; the Python API behind ``bwcolor colorize``.

    ``image``: (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA, as levels: uint8 (0-255), uint16
    (0-65535, either byte order) or float in [0, 1]. Returns RGB (RGBA if the input had alpha) of
    the same size and dtype. Colour inputs are colorized from their luminance. Other types (signed
    integers, bool, complex) raise ValueError: what their numbers mean as levels is not known.

    ``hints``: colours known at some places, as ``[(x, y, "#rrggbb"), ...]`` (pixel coordinates,
    origin top-left; a fourth value is the radius in pixels; a colour may also be (r, g, b)
    levels 0-255), an RGBA strokes array of the image's size (opaque where the colour is known),
    or a :class:`bwcolor.files.hints.Hints`. Bad hints raise :class:`bwcolor.files.hints.HintError` (a
    ValueError).
    """
    check_rendering(render_size, saturation)
    image = np.asarray(image)
    if not (image.dtype.kind == "f" or image.dtype.type in (np.uint8, np.uint16)):
        raise ValueError(
            f"unsupported image type {image.dtype}: give uint8 (0-255), uint16 (0-65535) or float "
            "in [0, 1] levels"
        )
    given = image.dtype
    image = image.astype(given.newbyteorder("="), copy=False)  # big-endian uint16: native order
    alpha = None
    if image.ndim == 3 and image.shape[2] == 4:
        image, alpha = image[..., :3], image[..., 3]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    picture = Picture(image if image.dtype.kind == "u" else image.astype(np.float32), alpha)
    hints = as_hints(hints, picture.width, picture.height)
    out = colorize_rgb(
        model, picture, render_size, saturation, np.float32 if image.dtype.kind == "f" else None, hints
    )
    if alpha is not None:
        out = np.dstack([out, alpha.astype(out.dtype)])
    return out.astype(given, copy=False)
