"""Colour hints as network inputs: known ab values at a few places (Zhang et al. 2017).

A person often knows a colour the network cannot ("her dress was blue"). Following "Real-Time
User-Guided Image Colorization with Learned Deep Priors" (Zhang, Zhu, Isola, Geng, Lin, Yu &
Efros 2017), such knowledge enters the network as three extra input channels at the size of L:
the hint's normalised a and b, and a mask that is 1 where a colour is given, 0 elsewhere. With
the mask all zero the network colours on its own.

* :func:`random_hints` draws hints from a training crop's own colours, as Zhang et al. do: half
  the crops get none (so the network still learns to colour alone), the rest a geometric number
  of small square patches (mean 8), each given its true mean colour.
* :class:`HintEncoder` brings the hint channels to each scale of a decoder: the mean hinted
  colour of each cell, the share of the cell hinted and whether any of it is, then two 3x3
  convolutions without biases. No hints give exactly zero, and the last convolution starts at
  zero, so a network given these inputs starts as the network without them and, until trained
  with hints, ignores them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Hint channels: normalised a, b (0 where no hint), and the mask (1 where a colour is given).
HINT_CHANNELS = 3
#: Crops given no hints at all during training.
NO_HINT_SHARE = 0.5
#: Number of hint patches of the other crops: geometric with this success probability (mean 1/p).
PATCHES_P = 1 / 8
MAX_PATCHES = 64
#: Side of a hint patch in crop pixels: uniform in 1..MAX_PATCH_SIDE.
MAX_PATCH_SIDE = 9


def random_hints(ab: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hints for a batch of crops drawn from their own colours: (B, 2, H, W) -> (B, 3, H, W).

    Each hinted crop gets N ~ Geometric(PATCHES_P) square patches (at most MAX_PATCHES), of
    side uniform in 1..MAX_PATCH_SIDE, centred uniformly at random for half of them and near
    the middle (a normal of a quarter of the side) for the rest, where people's subjects are;
    each patch carries the mean ab of the crop under it.
    """
    b, _, h, w = ab.shape
    hints = np.zeros((b, HINT_CHANNELS, h, w), np.float32)
    for i in range(b):
        if rng.random() < NO_HINT_SHARE:
            continue
        for _ in range(min(int(rng.geometric(PATCHES_P)), MAX_PATCHES)):
            side = int(rng.integers(1, MAX_PATCH_SIDE + 1))
            if rng.random() < 0.5:
                cy, cx = rng.integers(0, h), rng.integers(0, w)
            else:
                cy, cx = (int(np.clip(rng.normal(n / 2, n / 4), 0, n - 1)) for n in (h, w))
            y0, x0 = max(0, int(cy) - side // 2), max(0, int(cx) - side // 2)
            y1, x1 = min(h, y0 + side), min(w, x0 + side)
            hints[i, :2, y0:y1, x0:x1] = ab[i, :, y0:y1, x0:x1].mean(axis=(1, 2))[:, None, None]
            hints[i, 2, y0:y1, x0:x1] = 1.0
    return hints


class HintEncoder(nn.Module):
    """Hint channels (B, 3, H, W) -> features to add to a decoder's activations of ``channels``
    at another size; exactly zero where and when no hint is given nearby."""

    def __init__(self, channels: int, width: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(4, width, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(width, channels, 3, padding=1, bias=False)
        nn.init.zeros_(self.conv2.weight)

    def forward(self, hints: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        hints = hints.float()
        pooled = F.adaptive_avg_pool2d(hints, size)
        share = pooled[:, 2:3]
        given = (share > 0).to(share.dtype)
        mean_ab = pooled[:, :2] / share.clamp_min(1e-6) * given
        x = torch.cat([mean_ab, share, given], 1)
        return self.conv2(F.relu(self.conv1(x)))


def no_hints(hints: torch.Tensor | None) -> bool:
    """Whether ``hints`` gives no colour anywhere (None, or an all-zero mask)."""
    return hints is None or not bool((hints[:, 2] > 0).any())
