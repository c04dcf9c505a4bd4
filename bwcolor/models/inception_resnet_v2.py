"""Inception-ResNet-v2 (Szegedy et al. 2016), the classifier Deep Koalarization used.

Defined here (55,843,464 parameters with its 1000-class head, 299x299 input), with the module
names of the common PyTorch ports (timm's ``inception_resnet_v2``, Cadene's
``pretrainedmodels``), so their ImageNet state dicts load directly. No pretrained weights can be
downloaded at run time: the user names a local file (see :func:`load_weights`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

INPUT_SIZE = 299


class BasicConv2d(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)
        self.relu = nn.ReLU(inplace=False)


class _Branches(nn.Module):
    """Runs named branches on the same input and concatenates them along channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches()], dim=1)

    def branches(self):
        return [m for name, m in self.named_children() if name.startswith("branch")]


class Mixed5b(_Branches):
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(192, 96, 1)
        self.branch1 = nn.Sequential(BasicConv2d(192, 48, 1), BasicConv2d(48, 64, 5, padding=2))
        self.branch2 = nn.Sequential(
            BasicConv2d(192, 64, 1),
            BasicConv2d(64, 96, 3, padding=1),
            BasicConv2d(96, 96, 3, padding=1),
        )
        self.branch3 = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), BasicConv2d(192, 64, 1)
        )


class Mixed6a(_Branches):
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(320, 384, 3, stride=2)
        self.branch1 = nn.Sequential(
            BasicConv2d(320, 256, 1),
            BasicConv2d(256, 256, 3, padding=1),
            BasicConv2d(256, 384, 3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)


class Mixed7a(_Branches):
    def __init__(self):
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv2d(1088, 256, 1), BasicConv2d(256, 384, 3, stride=2))
        self.branch1 = nn.Sequential(BasicConv2d(1088, 256, 1), BasicConv2d(256, 288, 3, stride=2))
        self.branch2 = nn.Sequential(
            BasicConv2d(1088, 256, 1),
            BasicConv2d(256, 288, 3, padding=1),
            BasicConv2d(288, 320, 3, stride=2),
        )
        self.branch3 = nn.MaxPool2d(3, stride=2)


class _Residual(_Branches):
    """x + scale * conv1x1(concat(branches(x))), then ReLU (except for the very last block)."""

    def __init__(self, channels: int, mixed: int, scale: float, relu: bool = True):
        super().__init__()
        self.scale = scale
        self.conv2d = nn.Conv2d(mixed, channels, 1)
        self.relu = nn.ReLU(inplace=False) if relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.scale * self.conv2d(super().forward(x))
        return self.relu(out) if self.relu is not None else out


class Block35(_Residual):
    def __init__(self, scale: float = 1.0):
        super().__init__(320, 128, scale)
        self.branch0 = BasicConv2d(320, 32, 1)
        self.branch1 = nn.Sequential(BasicConv2d(320, 32, 1), BasicConv2d(32, 32, 3, padding=1))
        self.branch2 = nn.Sequential(
            BasicConv2d(320, 32, 1),
            BasicConv2d(32, 48, 3, padding=1),
            BasicConv2d(48, 64, 3, padding=1),
        )


class Block17(_Residual):
    def __init__(self, scale: float = 1.0):
        super().__init__(1088, 384, scale)
        self.branch0 = BasicConv2d(1088, 192, 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(1088, 128, 1),
            BasicConv2d(128, 160, (1, 7), padding=(0, 3)),
            BasicConv2d(160, 192, (7, 1), padding=(3, 0)),
        )


class Block8(_Residual):
    def __init__(self, scale: float = 1.0, relu: bool = True):
        super().__init__(2080, 448, scale, relu)
        self.branch0 = BasicConv2d(2080, 192, 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(2080, 192, 1),
            BasicConv2d(192, 224, (1, 3), padding=(0, 1)),
            BasicConv2d(224, 256, (3, 1), padding=(1, 0)),
        )


class InceptionResNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32, 3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, 3)
        self.conv2d_2b = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)
        self.mixed_5b = Mixed5b()
        self.repeat = nn.Sequential(*[Block35(0.17) for _ in range(10)])
        self.mixed_6a = Mixed6a()
        self.repeat_1 = nn.Sequential(*[Block17(0.10) for _ in range(20)])
        self.mixed_7a = Mixed7a()
        self.repeat_2 = nn.Sequential(*[Block8(0.20) for _ in range(9)])
        self.block8 = Block8(relu=False)
        self.conv2d_7b = BasicConv2d(2080, 1536, 1)
        self.classif = nn.Linear(1536, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits of images normalised as (x - 0.5) / 0.5, ideally 299x299."""
        for name, module in self.named_children():
            if name == "classif":
                break
            x = module(x)
        return self.classif(x.mean(dim=(2, 3)))


def load_weights(model: InceptionResNetV2, path: str | Path) -> None:
    """Load an ImageNet state dict from a local file, without running code from it.

    Accepts ``.safetensors`` or a plain PyTorch state dict (read with ``weights_only=True``),
    with either timm's (``classif``) or Cadene's (``last_linear``) head name.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
    state = {k.replace("last_linear.", "classif."): v for k, v in state.items()}
    model.load_state_dict(state, strict=True)
