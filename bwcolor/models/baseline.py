"""The paper's baseline: an 8-layer convolutional encoder-decoder (231,682 parameters).

| layer | op                         | output at 256x256 |
| ----- | -------------------------- | ----------------- |
| 1     | conv 3x3, 1->32            | 32 x 256 x 256    |
| 2     | conv 3x3, 32->32, stride 2 | 32 x 128 x 128    |
| 3     | conv 3x3, 32->64           | 64 x 128 x 128    |
| 4     | conv 3x3, 64->64, stride 2 | 64 x 64 x 64      |
| 5     | conv 3x3, 64->128          | 128 x 64 x 64     |
|       | upsample x2                | 128 x 128 x 128   |
| 6     | conv 3x3, 128->64          | 64 x 128 x 128    |
|       | upsample x2                | 64 x 256 x 256    |
| 7     | conv 3x3, 64->32           | 32 x 256 x 256    |
| 8     | conv 3x3, 32->2, tanh      | 2 x 256 x 256     |

All convolutions are 'same'-padded with ReLU except the last (tanh). Input: normalised L
(B, 1, H, W) with H and W multiples of 4; output: normalised ab (B, 2, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bwcolor.models.registry import register_model


def conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1)


@register_model("baseline")
class BaselineCNN(nn.Module):
    @dataclass
    class Config:
        render_size: int = 256  # long side of the image the network sees

    def __init__(self, config: Config | None = None):
        super().__init__()
        self.config = config or self.Config()
        relu = nn.ReLU(inplace=True)
        self.layers = nn.Sequential(
            conv(1, 32), relu,
            conv(32, 32, stride=2), relu,
            conv(32, 64), relu,
            conv(64, 64, stride=2), relu,
            conv(64, 128), relu,
            nn.Upsample(scale_factor=2, mode="nearest"),
            conv(128, 64), relu,
            nn.Upsample(scale_factor=2, mode="nearest"),
            conv(64, 32), relu,
            conv(32, 2), nn.Tanh(),
        )  # fmt: skip

    def forward(self, lum: torch.Tensor) -> torch.Tensor:
        return self.layers(lum)
