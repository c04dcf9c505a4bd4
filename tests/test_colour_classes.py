"""The ab classification head: bins, soft encoding, annealed mean, and training with it."""

import numpy as np
import pytest
import torch

from bwcolor import lab, load_model
from bwcolor.models import create_model
from bwcolor.models.colour_classes import (
    AB_CELL,
    ClassHead,
    class_centres,
    class_loss,
    grid_cell,
    soft_encode,
)

SCALE = 110.0


def test_classes_cover_the_srgb_gamut_and_nothing_far_outside():
    centres = class_centres().numpy()
    assert 200 < len(centres) < 313  # Zhang et al. count 313 with a looser in-gamut test
    rng = np.random.default_rng(0)
    ab = lab.rgb_to_lab(rng.random((64, 64, 3), dtype=np.float32))[..., 1:].reshape(-1, 2)
    nearest = np.linalg.norm(ab[:, None] - centres[None], axis=-1).min(1)
    assert nearest.max() <= AB_CELL / np.sqrt(2) + 1e-3  # every sRGB colour lies in a class's cell
    assert {(-5.0, -5.0), (5.0, 5.0), (-5.0, 5.0), (5.0, -5.0)} <= {tuple(c) for c in centres}
    assert (-105.0, -105.0) not in {tuple(c) for c in centres}  # a saturated blue-green no sRGB holds


def test_soft_encoding_weights_the_nearest_classes():
    ab = torch.tensor([[[[32.0]], [[-42.0]]]]) / SCALE  # (1, 2, 1, 1)
    idx, w = soft_encode(ab, SCALE)
    assert idx.shape == w.shape == (1, 5, 1, 1)
    assert torch.allclose(w.sum(1), torch.ones(1, 1, 1))
    nearest = class_centres()[idx[0, 0, 0, 0]]
    assert torch.equal(nearest, torch.tensor([35.0, -45.0]))  # the cell holding (32, -42)
    assert (w[0, 0] >= w[0, 1:]).all()


def test_soft_encoding_finds_what_a_search_of_every_class_finds():
    """The candidate table gives the classes and weights of the plain search, in and out of gamut."""
    gen = torch.Generator().manual_seed(3)
    ab = (torch.rand(2, 2, 48, 48, generator=gen) * 2 - 1) * 1.05  # beyond [-110, 110] too
    ab[0] *= 0.5  # and many ordinary colours
    idx, w = soft_encode(ab, SCALE)
    pixels = ab.permute(0, 2, 3, 1).reshape(-1, 2) * SCALE
    dist2 = torch.cdist(pixels.double(), class_centres().double()).square()
    near, want = dist2.topk(5, dim=1, largest=False)
    got = idx.permute(0, 2, 3, 1).reshape(-1, 5)
    got_d2 = dist2.gather(1, got)
    # the same distances (ties may pick either of two equidistant classes), the same weights
    assert torch.allclose(got_d2.sort(1).values, near, atol=1e-3)
    want_w = torch.softmax(-near / (2 * 5.0**2), 1).float()
    assert torch.allclose(
        w.permute(0, 2, 3, 1).reshape(-1, 5).sort(1).values, want_w.sort(1).values, atol=1e-4
    )


def test_annealed_mean_lies_between_the_mean_and_the_mode():
    centres = class_centres()
    head = ClassHead(4, temperature=1.0)
    i, j = 10, 200
    logits = torch.full((1, len(centres), 1, 1), -30.0)
    logits[0, i], logits[0, j] = 2.0, 1.0
    p = torch.softmax(logits[0, :, 0, 0], 0)
    mean = (p[:, None] * centres).sum(0) / SCALE
    assert torch.allclose(head.decode(logits)[0, :, 0, 0], mean, atol=1e-5)
    head.temperature = 0.05
    assert torch.allclose(head.decode(logits)[0, :, 0, 0], centres[i] / SCALE, atol=1e-4)  # the mode
    head.temperature = 0.38
    mid = head.decode(logits)[0, :, 0, 0]
    assert torch.linalg.norm(mid - centres[i] / SCALE) < torch.linalg.norm(mean - centres[i] / SCALE)


def test_the_chroma_scale_scales_the_decoded_colour_and_travels_in_the_checkpoint(tmp_path):
    from bwcolor import create_model, load_model, save_checkpoint

    logits = torch.randn(2, len(class_centres()), 3, 3)
    plain = ClassHead(4, temperature=0.38).decode(logits)
    assert torch.allclose(ClassHead(4, temperature=0.38, chroma=1.5).decode(logits), 1.5 * plain, atol=1e-6)
    model = create_model("effnet_unet", render_size=64, chroma_scale=1.25)
    again = load_model(save_checkpoint(model, tmp_path / "m.safetensors"))
    assert again.head.chroma == 1.25 and again.config.chroma_scale == 1.25


def test_the_hue_boost_brightens_agreeing_colours_only_and_travels_in_the_checkpoint(tmp_path):
    from bwcolor import create_model, load_model, save_checkpoint

    centres = class_centres()
    q = len(centres)
    sure = torch.full((1, q, 1, 2), -1e4)
    red = int(torch.argmax(centres[:, 0]))
    sure[0, red, 0, 0] = 0.0  # all on one class: agreement 1
    opposite = int(torch.argmin(centres[:, 0]))
    sure[0, red, 0, 1] = sure[0, opposite, 0, 1] = 0.0  # two far-apart hues, evenly
    plain = ClassHead(4, temperature=1.0).decode(sure)
    boosted = ClassHead(4, temperature=1.0, hue_boost=0.5, hue_power=2).decode(sure)
    assert torch.allclose(boosted[..., 0], 1.5 * plain[..., 0], atol=1e-5)
    agreement = plain[0, :, 0, 1].norm() / ((centres[red].norm() + centres[opposite].norm()) / 2 / SCALE)
    assert 0 < agreement < 0.5
    assert torch.allclose(boosted[..., 1], (1 + 0.5 * agreement**2) * plain[..., 1], atol=1e-5)
    logits = torch.randn(2, q, 3, 3)
    assert torch.equal(ClassHead(4, 0.38, hue_boost=0.0).decode(logits), ClassHead(4, 0.38).decode(logits))
    model = create_model("effnet_unet", render_size=64, hue_boost=0.45, hue_power=2.0)
    again = load_model(save_checkpoint(model, tmp_path / "m.safetensors"))
    assert (again.head.hue_boost, again.head.hue_power) == (0.45, 2.0)


def test_decoding_the_soft_encoding_gives_the_colour_back():
    rng = np.random.default_rng(1)
    rgb = rng.random((8, 8, 3), dtype=np.float32)
    ab = torch.from_numpy(lab.rgb_to_lab(rgb)[..., 1:] / SCALE).permute(2, 0, 1)[None]
    idx, w = soft_encode(ab, SCALE)
    logits = torch.full((1, len(class_centres()), 8, 8), -1e4).scatter(1, idx, w.log())
    back = ClassHead(4, temperature=1.0).decode(logits)
    assert (back - ab).abs().max() * SCALE < 3.0  # Lab units


def test_class_loss_is_lowest_for_the_true_colour_and_rebalancing_weights_it():
    ab = torch.full((1, 2, 4, 4), 0.3)
    idx, w = soft_encode(ab, SCALE)
    right = torch.zeros(1, len(class_centres()), 2, 2).scatter(1, idx[..., :2, :2], 10 * w[..., :2, :2])
    wrong = torch.zeros_like(right)
    wrong[:, 0] = 10.0
    assert class_loss(right, ab, SCALE).mean() < class_loss(wrong, ab, SCALE).mean()
    assert class_loss(right, ab, SCALE).shape == (1, 2, 2)  # target pooled to the logits' size
    weights = torch.full((22 * 22,), 3.0)
    assert torch.allclose(class_loss(right, ab, SCALE, weights), 3 * class_loss(right, ab, SCALE))
    assert grid_cell(ab, SCALE).unique().numel() == 1


def test_fusion_with_the_classes_head():
    torch.manual_seed(0)
    model = create_model("fusion", head="classes").eval()
    lum = torch.rand(2, 1, 32, 48) * 2 - 1
    with torch.no_grad():
        assert model(lum, logits=True).shape == (2, len(class_centres()), 16, 24)
        ab = model(lum)
    assert ab.shape == (2, 2, 32, 48) and ab.abs().max() <= 1
    with pytest.raises(ValueError, match="unknown head"):
        create_model("fusion", head="bins")


def test_training_the_classes_head_learns_and_colorizes(tmp_path, cli):
    from bwcolor.training.trainer import train
    from tests.test_train import config, learnable_images

    data = learnable_images(tmp_path / "data", n=16)
    result = train(config(tmp_path, data, model="fusion", head="classes", epochs=8, lr=1e-2))
    history = result["history"]
    uniform = np.log(len(class_centres()))  # the cross-entropy of knowing nothing
    assert history[-1]["val_loss"] < 0.8 * uniform
    assert min(h["val_mse"] for h in history) < 0.9 * result["gray_val_loss"]  # decoded colours beat gray
    model = load_model(result["best"])
    assert model.config.head == "classes"
    res = cli("colorize", str(data), "-m", result["best"], "-o", str(tmp_path / "col"), "--quiet")
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "col").iterdir())) == 16


def test_head_is_not_for_the_baseline(tmp_path, cli):
    res = cli(
        "train", str(tmp_path), "-m", "baseline", "--head", "classes", "-o", str(tmp_path / "m.safetensors")
    )
    assert res.exit_code == 2 and "--head is for the effnet_unet and fusion models only" in res.stderr
