"""Colour classes: a classification head over quantised ab (Zhang, Isola & Efros 2016).

A network trained with MSE predicts the mean of the plausible colours of a pixel, and the mean
of blue, green and brown is a dull brown: the sepia look. A classification head predicts a
distribution over ab bins instead, trained with cross-entropy on soft-encoded targets (each true
colour spread over its 5 nearest bins with a Gaussian of sigma 5 Lab units), and is decoded with
the *annealed mean*: the mean of the distribution sharpened by a temperature T < 1 (0.38 in the
paper), between the mean (T = 1) and the mode (T -> 0).

Bins: the cells of a 10-unit grid over a, b in [-110, 110) (the grid ``AB_CELL`` also used for
class rebalancing) that hold at least one sRGB colour at some lightness: 268 classes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

AB_CELL = 10.0  # Lab units per grid cell
AB_CELLS = 22  # cells per axis: [-110, 110)
NEIGHBOURS = 5
SIGMA = 5.0  # Lab units


def grid_cell(ab: torch.Tensor, ab_scale: float) -> torch.Tensor:
    """Normalised ab (B, 2, H, W) -> flat grid cell index (B, H, W) on the AB_CELLS x AB_CELLS grid."""
    idx = ((ab * ab_scale + AB_CELL * AB_CELLS / 2) / AB_CELL).long().clamp_(0, AB_CELLS - 1)
    return idx[:, 0] * AB_CELLS + idx[:, 1]


@lru_cache(maxsize=1)
def class_cells() -> np.ndarray:
    """Flat grid indices of the cells in the sRGB gamut, ascending: one per class."""
    from bwcolor import lab

    centres = np.arange(AB_CELLS) * AB_CELL - AB_CELL * AB_CELLS / 2 + AB_CELL / 2
    a, b = (g.ravel() for g in np.meshgrid(centres, centres, indexing="ij"))
    lightness = np.linspace(0, 100, 101, dtype=np.float32)
    inside = np.zeros(a.size, bool)
    for da in (-0.45 * AB_CELL, 0.0, 0.45 * AB_CELL):
        for db in (-0.45 * AB_CELL, 0.0, 0.45 * AB_CELL):
            trial = np.empty((lightness.size, a.size, 3), np.float32)
            trial[..., 0] = lightness[:, None]
            trial[..., 1] = a + da
            trial[..., 2] = b + db
            back = lab.rgb_to_lab(lab.lab_to_rgb(trial))  # clipped RGB moves out-of-gamut colours
            inside |= (np.abs(back - trial).max(-1) < 1.0).any(0)
    return np.flatnonzero(inside)


def class_centres() -> torch.Tensor:
    """(Q, 2) ab centres of the classes, in Lab units."""
    cells = class_cells()
    half = AB_CELL * AB_CELLS / 2
    a = (cells // AB_CELLS) * AB_CELL - half + AB_CELL / 2
    b = (cells % AB_CELLS) * AB_CELL - half + AB_CELL / 2
    return torch.from_numpy(np.stack([a, b], 1).astype(np.float32))


#: Side (Lab units) of the cells of the table of candidate classes used by :func:`soft_encode`.
LOOKUP_STEP = 0.5


@lru_cache(maxsize=1)
def _candidates() -> tuple[torch.Tensor, torch.Tensor]:
    """For each LOOKUP_STEP cell of the ab plane, every class that can be among the NEIGHBOURS
    nearest of a point in it: (cells, K) indices, and (cells, K) whether each entry is one (the
    rows are padded to the longest).

    A point p at most r from its cell's centre c has its NEIGHBOURS-th nearest class within
    d5(c) + r, so each of its nearest classes lies within d5(c) + 2r of c.
    """
    half = AB_CELL * AB_CELLS / 2
    axis = torch.arange(-half, half, LOOKUP_STEP, dtype=torch.float64) + LOOKUP_STEP / 2
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    dist = torch.cdist(grid, class_centres().double())
    reach = dist.topk(NEIGHBOURS, dim=1, largest=False).values[:, -1:] + LOOKUP_STEP * 2**0.5 + 1e-6
    near = dist <= reach
    k = int(near.sum(1).max())
    order = torch.where(near, dist, torch.inf).topk(k, dim=1, largest=False)
    return order.indices, torch.isfinite(order.values)


def soft_encode(ab: torch.Tensor, ab_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised ab (B, 2, H, W) -> the NEIGHBOURS nearest classes (B, K, H, W) and their weights.

    The nearest classes are searched among a few candidates for the pixel's part of the ab
    plane (:func:`_candidates`; the same classes as a search of all of them, in a tenth of the
    time); the weights are Gaussians of the distances.
    """
    centres = class_centres().to(ab.device)
    pixels = ab.permute(0, 2, 3, 1).reshape(-1, 2).float() * ab_scale
    n = int(AB_CELL * AB_CELLS / LOOKUP_STEP)
    cell = ((pixels + AB_CELL * AB_CELLS / 2) / LOOKUP_STEP).floor().long()
    outside = ((cell < 0) | (cell >= n)).any(1)  # beyond any sRGB colour: searched in full
    candidates, real = (t.to(ab.device) for t in _candidates())
    rows = cell.clamp_(0, n - 1)[:, 0] * n + cell[:, 1]
    cand = candidates[rows]
    dist2 = (centres[cand] - pixels[:, None]).square().sum(-1).masked_fill_(~real[rows], torch.inf)
    near, pick = dist2.topk(NEIGHBOURS, dim=1, largest=False)
    idx = cand.gather(1, pick)
    if outside.any():
        far = torch.cdist(pixels[outside], centres).square().topk(NEIGHBOURS, dim=1, largest=False)
        near[outside], idx[outside] = far.values, far.indices
    weights = torch.softmax(-near / (2 * SIGMA**2), dim=1)  # normalised Gaussian weights
    b, _, h, w = ab.shape
    shape = (b, h, w, NEIGHBOURS)
    return idx.reshape(shape).permute(0, 3, 1, 2), weights.reshape(shape).permute(0, 3, 1, 2)


def class_loss(
    logits: torch.Tensor, ab: torch.Tensor, ab_scale: float, cell_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy of logits (B, Q, h, w) against soft-encoded target ab (B, 2, H, W), per pixel.

    The target is area-averaged to the logits' size. ``cell_weights`` (AB_CELLS**2,) weight each
    pixel by its true colour's grid cell (class rebalancing). Returns (B, h, w).
    """
    if ab.shape[-2:] != logits.shape[-2:]:
        ab = F.adaptive_avg_pool2d(ab, logits.shape[-2:])
    idx, weights = soft_encode(ab, ab_scale)
    logp = torch.log_softmax(logits.float(), dim=1).gather(1, idx)
    loss = -(weights * logp).sum(1)
    if cell_weights is not None:
        loss = loss * cell_weights[grid_cell(ab, ab_scale)]
    return loss


def class_prior(images, sample: int = 3000, smoothing: float = 1e-4) -> list[float]:
    """How often each colour class occurs in ``images`` (uint8 RGB arrays), as probabilities.

    Counted over at most ``sample`` images spread evenly over the sequence, each pixel's ab at
    its nearest class centre; ``smoothing`` (a share of a uniform distribution) keeps every
    class above zero, so that ``log`` of the prior is finite.
    """
    from bwcolor import lab

    centres = class_centres()
    counts = torch.zeros(len(centres), dtype=torch.float64)
    for i in np.unique(np.linspace(0, len(images) - 1, min(sample, len(images))).astype(int)):
        small = lab.shrink(np.asarray(images[i]), 64)
        ab = torch.from_numpy(lab.rgb_to_lab(small.astype(np.float32) / 255)[..., 1:].reshape(-1, 2).copy())
        counts += torch.bincount(torch.cdist(ab, centres).argmin(1), minlength=len(centres)).double()
    p = counts / counts.sum().clamp_min(1)
    p = (1 - smoothing) * p + smoothing / len(p)
    return [round(float(v), 8) for v in p]


class ClassHead(nn.Module):
    """1x1 conv to class logits; :meth:`decode` gives normalised ab by the annealed mean.

    ``prior_weight`` (alpha) > 0 divides the predicted distribution by the training colours'
    prior to the power alpha before the annealed mean: a network trained with plain
    cross-entropy predicts p(colour | image), which leans towards the common, desaturated
    colours; dividing by p(colour)^alpha gives the rare, saturated ones their due at decoding
    time (the effect of Zhang et al.'s class rebalancing, but tunable without retraining).
    ``chroma`` scales the decoded colour (the model's own saturation, chosen on validation: see
    ``bwcolor info MODEL --decoding KEY=VALUE -o NEW`` or ``bwcolor train --decoding``; ``--saturation``
    scales on top of it).

    ``hue_boost`` (k) > 0 adds colour where the network is sure of the hue rather than
    everywhere: the chroma is scaled by ``1 + k * c**hue_power``, with the hue agreement
    c = |E[ab]| / E[|ab|] under the annealed distribution (1 where the likely colours share one
    hue, near 0 where they disagree, as blue against brown). A constant chroma scale makes wrong
    colour brighter as much as right colour; this one mostly brightens the confident regions.
    """

    def __init__(
        self,
        channels: int,
        temperature: float,
        ab_scale: float = 110.0,
        prior: list[float] | None = None,
        prior_weight: float = 0.0,
        chroma: float = 1.0,
        hue_boost: float = 0.0,
        hue_power: float = 1.0,
    ):
        super().__init__()
        self.conv = nn.Conv2d(channels, len(class_cells()), 1)
        self.temperature = temperature
        self.prior_weight = prior_weight
        self.chroma = chroma
        self.hue_boost, self.hue_power = hue_boost, hue_power
        self.register_buffer("centres", class_centres() / ab_scale, persistent=False)
        self.ab_scale = ab_scale
        log_prior = (
            torch.log(torch.tensor(prior, dtype=torch.float32)) if prior else torch.zeros(len(self.centres))
        )
        if len(log_prior) != len(self.centres):
            raise ValueError(f"class_prior has {len(log_prior)} values, not {len(self.centres)}")
        self.register_buffer("log_prior", log_prior, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def use_normalisation(self, norm) -> None:
        """Decode to ab normalised by ``norm.ab_scale`` (the model's checkpoint's)."""
        self.ab_scale = norm.ab_scale
        self.centres = (class_centres() / norm.ab_scale).to(self.centres.device)

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits (B, Q, h, w) -> normalised ab (B, 2, h, w), the annealed mean."""
        scores = logits.float()
        if self.prior_weight:
            scores = scores - self.prior_weight * self.log_prior[:, None, None]
        p = torch.softmax(scores / self.temperature, dim=1)
        ab = torch.einsum("bqhw,qc->bchw", p, self.centres)
        if self.hue_boost:
            ab = ab * (1 + self.hue_boost * hue_agreement(p, ab, self.centres) ** self.hue_power)
        if self.chroma != 1.0:
            ab = ab * self.chroma
        return ab.to(logits.dtype)


def hue_agreement(p: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """|E[ab]| / E[|ab|] under the class distribution ``p`` (B, Q, h, w), whose mean colour is ``ab``
    (B, 2, h, w): (B, 1, h, w), 1 where the likely colours share one hue, near 0 where they disagree."""
    mean_chroma = torch.einsum("bqhw,q->bhw", p, centres.norm(dim=1))[:, None]
    return (ab.norm(dim=1, keepdim=True) / mean_chroma.clamp_min(1e-6)).clamp(0, 1)
