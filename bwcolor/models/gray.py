"""The gray baseline: a = b = 0 everywhere, i.e. the input's own gray image.

Every quality table shows it, because PSNR and SSIM of a grayscale output are already high:
a model is only better than doing nothing if it beats this row.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bwcolor.models.registry import register_model


@register_model("gray")
class GrayBaseline(nn.Module):
    @dataclass
    class Config:
        render_size: int = 64  # the output ignores it; small keeps the unused resize cheap

    def __init__(self, config: Config | None = None):
        super().__init__()
        self.config = config or self.Config()

    def forward(self, lum: torch.Tensor) -> torch.Tensor:
        return lum.new_zeros(lum.shape[0], 2, *lum.shape[2:])
