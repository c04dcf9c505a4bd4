"""Deep Koalarization (Baldassarre et al. 2017): a conv encoder fused with a global embedding.

* Encoder, 3x3 convs with ReLU: 64 (stride 2), 128, 128 (stride 2), 256, 256 (stride 2), 512,
  512, 256 -> features at H/8.
* Global embedding: the 1000 ImageNet logits of a frozen classifier (``backbone``) fed the gray
  image, replicated over the H/8 grid and concatenated to the features.
* Fusion: 1x1 conv (256 + 1000 -> 256) with ReLU.
* Decoder: conv 128, up x2, conv 64, conv 64, up x2, conv 32, conv 2 with tanh, up x2 (nearest).
  With ``head="classes"`` the last conv is a 1x1 conv to ab-class logits instead, decoded by the
  annealed mean before the last upsampling (see :mod:`bwcolor.models.colour_classes`).

With few training images, the per-image embedding lets the fusion layer memorise each image's
colours; ``embedding_dropout`` (training only) counters that.

Replicating a vector over the grid and applying a 1x1 conv equals adding (W_e @ embedding) to
every position, which is how it is computed here: same weights, no 1000-channel tensor in memory.
Works for any input whose sides are multiples of 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bwcolor import lab
from bwcolor.files.cache import load_array, save_array
from bwcolor.lab import Normalisation
from bwcolor.models.backbones import BACKBONES, EMBEDDING_DIM, create_backbone
from bwcolor.models.colour_classes import ClassHead
from bwcolor.models.hooks import TrainingHooks
from bwcolor.models.registry import register_model


def gray_from_lum(lum: torch.Tensor, norm: Normalisation) -> torch.Tensor:
    """Normalised L (the model's ``norm``) -> sRGB gray in [0, 1], the image a classifier expects."""
    lightness = (lum + norm.l_offset) * norm.l_scale
    fy = (lightness + 16.0) / 116.0
    y = torch.where(fy > 6 / 29, fy**3, (lightness / (24389 / 27)))
    gray = torch.where(y <= 0.0031308, 12.92 * y, 1.055 * y.clamp_min(1e-8) ** (1 / 2.4) - 0.055)
    return gray.clamp(0.0, 1.0)


def conv_relu(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True)]


@register_model("fusion")
class FusionNet(nn.Module):
    @dataclass
    class Config:
        render_size: int = 256
        backbone: str = "efficientnet_lite0"
        backbone_weights: str | None = None  # local file; needed for inception_resnet_v2 only
        embedding_dropout: float = 0.0  # training only: keeps the fusion from memorising images
        head: str = "regression"  # "regression": ab with tanh (the paper); "classes": ab-class logits
        temperature: float = 0.38  # annealed-mean temperature of the "classes" head

        def problem(self) -> str | None:
            """What makes this config unbuildable (a checkpoint header's values), or None."""
            if self.head not in ("regression", "classes"):
                return f"head={self.head!r} is not 'regression' or 'classes'"
            if self.backbone not in BACKBONES:
                return f"backbone={self.backbone!r} is not one of {', '.join(sorted(BACKBONES))}"
            if not 0 <= self.embedding_dropout < 1:
                return f"embedding_dropout={self.embedding_dropout!r} is not in [0, 1)"
            return None

    def __init__(self, config: Config | None = None):
        super().__init__()
        self.config = config or self.Config()
        self.normalisation = Normalisation()  # the checkpoint's, once loaded (set_normalisation)
        self.encoder = nn.Sequential(
            *conv_relu(1, 64, 2), *conv_relu(64, 128), *conv_relu(128, 128, 2),
            *conv_relu(128, 256), *conv_relu(256, 256, 2), *conv_relu(256, 512),
            *conv_relu(512, 512), *conv_relu(512, 256),
        )  # fmt: skip
        self.fusion = nn.Conv2d(256 + EMBEDDING_DIM, 256, 1)
        self.embedding_dropout = nn.Dropout(self.config.embedding_dropout)
        if self.config.head not in ("regression", "classes"):
            raise ValueError(f"unknown head {self.config.head!r}: use 'regression' or 'classes'")
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        classes = self.config.head == "classes"
        self.decoder = nn.Sequential(
            *conv_relu(256, 128), self.up,
            *conv_relu(128, 64), *conv_relu(64, 64), self.up,
            *conv_relu(64, 32),
            *([] if classes else [nn.Conv2d(32, 2, 3, padding=1), nn.Tanh(), self.up]),
        )  # fmt: skip
        self.head = ClassHead(32, self.config.temperature, self.normalisation.ab_scale) if classes else None
        # Built after the trainable layers so that their initialisation does not depend on it.
        self.backbone = create_backbone(self.config.backbone, self.config.backbone_weights)

    def embed(self, lum: torch.Tensor) -> torch.Tensor:
        """The backbone's logits (B, 1000) for normalised L (B, 1, H, W)."""
        return self.backbone(gray_from_lum(lum, self.normalisation))

    def forward(
        self, lum: torch.Tensor, embedding: torch.Tensor | None = None, logits: bool = False
    ) -> torch.Tensor:
        """Normalised L (B, 1, H, W) -> normalised ab (B, 2, H, W); class logits at H/2 if ``logits``."""
        if embedding is None:
            embedding = self.embed(lum)
        embedding = self.embedding_dropout(embedding)
        features = self.encoder(lum)
        w = self.fusion.weight[:, :, 0, 0]
        local = F.conv2d(features, self.fusion.weight[:, :256])
        global_ = F.linear(embedding.to(w.dtype), w[:, 256:], self.fusion.bias)
        fused = F.relu(local + global_[:, :, None, None])
        out = self.decoder(fused)
        if self.head is None:
            return out
        scores = self.head(out)
        return scores if logits else self.up(self.head.decode(scores))

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Weights saved in checkpoints: everything but the frozen backbone."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("backbone.")}


class FusionTraining(TrainingHooks):
    """Fusion's backbone is frozen: its embedding of every photo the run trains on (and of its
    mirror image) is computed once and cached on disk (float16), then read a batch at a time.
    With ``--max-per-source`` only the photos the epochs draw are embedded (the embedding is the
    slow part of preparing a run: about 10 photos/s per core on a CPU)."""

    BATCH = 32

    def prepare(self, model, train_set, val_set, cache_dir: Path, image_size: int, rows) -> None:
        tag = f"{round(image_size * 1.25)}-{model.config.backbone}"
        self.train_entries, self.val_entries = (
            [cache_dir / d[:2] / f"{d}-{tag}.emb16.npy" for d in images.digests]
            for images in (train_set, val_set)
        )
        train_todo = [i for i in rows if not self.train_entries[i].exists()]
        val_todo = [i for i, e in enumerate(self.val_entries) if not e.exists()]
        total = len(rows) + len(val_set)
        self.emit(
            "phase", name="backbone embeddings", total=total, done=total - len(train_todo) - len(val_todo)
        )
        self._embed(model, train_set, train_todo, self.train_entries)
        self._embed(model, val_set, val_todo, self.val_entries)

    def _embed(self, model, images, todo: list[int], entries: list[Path]) -> None:
        """Cache the backbone logits of the images ``todo`` and of their mirror images ((2, 1000)
        float16 each) at ``entries``."""
        device = next(model.parameters()).device
        size = model.backbone.input_size
        for start in range(0, len(todo), self.BATCH):
            chunk = todo[start : start + self.BATCH]
            pixels = [lab.resize(images.images[i], size, size) for i in chunk]
            lums = np.stack([lab.lab_pair(p, model.normalisation)[0] for p in pixels])
            x = torch.from_numpy(lums)[:, None].to(device)
            with torch.no_grad():
                both = torch.stack([model.embed(x), model.embed(x.flip(-1))], 1).cpu().numpy()
            for i, e in zip(chunk, both, strict=True):
                save_array(entries[i], e.astype(np.float16))
            self.emit("advance", n=len(chunk))

    def condition(self, rows, flips, val: bool = False) -> torch.Tensor:
        entries = self.val_entries if val else self.train_entries
        flips = np.zeros(len(rows), int) if flips is None else flips
        embeddings = [load_array(entries[r])[f] for r, f in zip(rows, flips, strict=True)]
        return torch.from_numpy(np.stack(embeddings).astype(np.float32))


FusionNet.training_hooks = FusionTraining
