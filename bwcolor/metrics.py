"""Image-quality metrics, pure functions on arrays of the same shape.

* ``mse_ab``: mean squared error of the Lab a, b channels (Lab units).
* ``mse_rgb``: mean squared error of RGB in [0, 1].
* ``psnr``: RGB PSNR in dB for 8-bit range (inf for identical images).
* ``ssim``: RGB SSIM with the standard Gaussian window (sigma 1.5, 11x11, K1 0.01, K2 0.03),
  equal to scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255, channel_axis=-1)``.
* ``ciede2000``: mean CIEDE2000 colour difference (Sharma et al. 2005).
* ``colourfulness``: Hasler and Suesstrunk (2003) on 8-bit RGB.
* ``vivid_wrong``: the percentage of pixels coloured vividly and wrongly: far from the truth
  (CIEDE2000 above 20), saturated (chroma above 20) and much more so than the truth (by more
  than 10); ``vivid_wrong_photos`` (over images): the share of images where it exceeds 2%.

PSNR and SSIM reward grey, desaturated results; CIEDE2000 and the colourfulness gap show
whether a model dares to colour.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from bwcolor import lab


class Column(NamedTuple):
    key: str  # in :func:`image_metrics`'s dict
    short: str  # a terminal table's header
    title: str  # a report's header
    fmt: str
    # Also in ``bwcolor evaluate``'s table (80 columns wide); always in its --csv and --json.
    terminal: bool = True

    def format(self, value: float) -> str:
        return self.fmt.format(value)


#: The metrics tables show, in order: the terminal's (``bwcolor evaluate``) and the report's.
METRIC_COLUMNS = (
    Column("mse_ab", "MSE ab", "MSE ab", "{:.1f}"),
    Column("mse_rgb", "MSE RGB", "MSE RGB", "{:.5f}", terminal=False),
    Column("psnr", "PSNR", "PSNR dB", "{:.2f}"),
    Column("ssim", "SSIM", "SSIM", "{:.4f}"),
    Column("ciede2000", "ΔE00", "CIEDE2000", "{:.2f}"),
    Column("colourfulness", "colour", "colourfulness", "{:.1f}"),
    Column("colourfulness_gap", "gap", "gap", "{:+.0f}"),
    Column("vivid_wrong", "vivid", "vivid wrong %", "{:.1f}"),
    Column("vivid_wrong_photos", ">2%", "photos > 2% vivid wrong", "{:.0%}"),
)

#: What :func:`vivid_wrong` counts: a pixel this far from the truth (CIEDE2000), at least this
#: saturated (chroma), and this much more saturated than the truth; and the share of pixels that
#: makes a photo count among ``vivid_wrong_photos`` (percent).
VIVID_DELTA_E, VIVID_CHROMA, VIVID_EXCESS, VIVID_PHOTO = 20.0, 20.0, 10.0, 2.0


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in size: {a.shape} vs {b.shape} (metrics never resize)")


def to_unit(rgb: np.ndarray) -> np.ndarray:
    """uint8/uint16/float RGB -> float64 in [0, 1]."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float64) / 255
    if rgb.dtype == np.uint16:
        return rgb.astype(np.float64) / 65535
    return rgb.astype(np.float64)


def mse_rgb(pred: np.ndarray, true: np.ndarray) -> float:
    _check(pred, true)
    return float(np.mean((to_unit(pred) - to_unit(true)) ** 2))


def mse_ab(pred_lab: np.ndarray, true_lab: np.ndarray) -> float:
    _check(pred_lab, true_lab)
    d = pred_lab[..., 1:].astype(np.float64) - true_lab[..., 1:]
    return float(np.mean(d**2))


def psnr(pred: np.ndarray, true: np.ndarray) -> float:
    """PSNR over RGB in 8-bit range (any input dtype is scaled to [0, 255])."""
    mse = mse_rgb(pred, true)
    return math.inf if mse == 0 else float(10 * np.log10(1.0 / mse))


def ssim(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean SSIM over RGB channels, 8-bit range, Gaussian window sigma 1.5 (11x11)."""
    _check(pred, true)
    x = to_unit(pred) * 255
    y = to_unit(true) * 255
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(a, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    scores = []
    for ch in range(x.shape[-1]):
        a, b = x[..., ch], y[..., ch]
        mu_a, mu_b = blur(a), blur(b)
        var_a = blur(a * a) - mu_a**2
        var_b = blur(b * b) - mu_b**2
        cov = blur(a * b) - mu_a * mu_b
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        pad = 5
        s = s[pad:-pad, pad:-pad] if min(s.shape) > 2 * pad else s
        scores.append(s.mean())
    return float(np.mean(scores))


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference per pixel between two Lab images (kL = kC = kH = 1)."""
    _check(lab1, lab2)
    L1, a1, b1 = (lab1[..., i].astype(np.float64) for i in range(3))
    L2, a2, b2 = (lab2[..., i].astype(np.float64) for i in range(3))
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dLp = L2 - L1
    dCp = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0, dh)
    dHp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    Lp_bar = (L1 + L2) / 2
    Cp_bar = (c1p + c2p) / 2
    hsum = h1p + h2p
    hp_bar = np.where(
        c1p * c2p == 0,
        hsum,
        np.where(
            np.abs(h1p - h2p) <= 180, hsum / 2, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2)
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(hp_bar - 30))
        + 0.24 * np.cos(np.radians(2 * hp_bar))
        + 0.32 * np.cos(np.radians(3 * hp_bar + 6))
        - 0.20 * np.cos(np.radians(4 * hp_bar - 63))
    )
    d_theta = 30 * np.exp(-(((hp_bar - 275) / 25) ** 2))
    rc = 2 * np.sqrt(Cp_bar**7 / (Cp_bar**7 + 25.0**7))
    sl = 1 + 0.015 * (Lp_bar - 50) ** 2 / np.sqrt(20 + (Lp_bar - 50) ** 2)
    sc = 1 + 0.045 * Cp_bar
    sh = 1 + 0.015 * Cp_bar * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    return np.sqrt((dLp / sl) ** 2 + (dCp / sc) ** 2 + (dHp / sh) ** 2 + rt * (dCp / sc) * (dHp / sh))


def vivid_wrong_mask(
    pred_lab: np.ndarray, true_lab: np.ndarray, delta_e: np.ndarray | None = None
) -> np.ndarray:
    """Where the colour is vivid and wrong (see :data:`VIVID_DELTA_E`), per pixel; ``delta_e``:
    their CIEDE2000, if already computed."""
    _check(pred_lab, true_lab)
    if delta_e is None:
        delta_e = ciede2000(pred_lab, true_lab)
    chroma = np.hypot(pred_lab[..., 1], pred_lab[..., 2])
    excess = chroma - np.hypot(true_lab[..., 1], true_lab[..., 2])
    return (delta_e > VIVID_DELTA_E) & (chroma > VIVID_CHROMA) & (excess > VIVID_EXCESS)


def vivid_wrong(pred_lab: np.ndarray, true_lab: np.ndarray, delta_e: np.ndarray | None = None) -> float:
    """The percentage of pixels whose colour is vivid and wrong (:func:`vivid_wrong_mask`)."""
    return float(100 * vivid_wrong_mask(pred_lab, true_lab, delta_e).mean())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003) colourfulness of RGB, on the 0-255 scale."""
    x = to_unit(rgb) * 255
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def image_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """All metrics for one output against its ground truth (RGB arrays of the same shape)."""
    _check(pred, true)
    pred_lab = lab.rgb_to_lab(to_unit(pred).astype(np.float32))
    true_lab = lab.rgb_to_lab(to_unit(true).astype(np.float32))
    c_pred, c_true = colourfulness(pred), colourfulness(true)
    delta_e = ciede2000(pred_lab, true_lab)
    vivid = vivid_wrong(pred_lab, true_lab, delta_e)
    return {
        "mse_ab": mse_ab(pred_lab, true_lab),
        "mse_rgb": mse_rgb(pred, true),
        "psnr": psnr(pred, true),
        "ssim": ssim(pred, true),
        "ciede2000": float(delta_e.mean()),
        "colourfulness": c_pred,
        "colourfulness_true": c_true,
        "colourfulness_gap": c_pred - c_true,
        "vivid_wrong": vivid,
        "vivid_wrong_photos": float(vivid > VIVID_PHOTO),  # its mean: the share of such photos
    }


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    """Means over images. PSNR is averaged over its finite values; images identical to their
    ground truth (infinite PSNR) are counted in ``psnr_infinite`` instead of making the mean inf."""
    if not rows:
        return {}
    out: dict[str, float] = {}
    for key in rows[0]:
        values = np.array([r[key] for r in rows], dtype=np.float64)
        if key == "psnr":
            finite = values[np.isfinite(values)]
            out["psnr"] = float(finite.mean()) if len(finite) else math.inf
            out["psnr_infinite"] = int((~np.isfinite(values)).sum())
        else:
            out[key] = float(values.mean())
    return out
