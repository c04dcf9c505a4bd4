"""Colour-hint inputs of effnet_unet: drawn in training, neutral without hints, trained in."""

import numpy as np
import pytest
import torch

from bwcolor import load_model
from bwcolor.errors import UsageError
from bwcolor.models import create_model
from bwcolor.models.checkpoint import read_checkpoint
from bwcolor.models.hints import NO_HINT_SHARE, random_hints
from bwcolor.training.trainer import train
from tests.test_train import config, learnable_images


def test_random_hints_carry_each_patch_mean_colour_and_leave_half_the_crops_bare():
    rng = np.random.default_rng(0)
    ab = rng.uniform(-0.5, 0.5, (400, 2, 24, 24)).astype(np.float32)
    hints = random_hints(ab, np.random.default_rng(1))
    assert hints.shape == (400, 3, 24, 24)
    assert np.array_equal(hints, random_hints(ab, np.random.default_rng(1)))  # seeded
    mask = hints[:, 2]
    assert set(np.unique(mask)) <= {0.0, 1.0}
    bare = ~mask.any(axis=(1, 2))
    assert abs(bare.mean() - NO_HINT_SHARE) < 0.08
    assert not hints[bare].any()  # no colour where no hint
    assert not hints[:, :2][np.broadcast_to(mask[:, None] == 0, hints[:, :2].shape)].any()
    # a lone 1-pixel patch carries the pixel's own colour; any hinted colour is within the crop's
    singles = np.argwhere(mask.sum(axis=(1, 2)) == 1)
    for (i,) in singles[:5]:
        y, x = np.argwhere(mask[i])[0]
        assert np.allclose(hints[i, :2, y, x], ab[i, :, y, x])
    assert np.abs(hints[:, :2]).max() <= 0.5


def test_a_model_with_hint_inputs_starts_as_the_one_without_and_hints_then_steer_it():
    torch.manual_seed(0)
    plain = create_model("effnet_unet").eval()
    hinted = create_model("effnet_unet", hint_inputs=True).eval()
    missing = hinted.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("hint_encoders.") for k in missing)
    lum = torch.rand(1, 1, 64, 64) * 2 - 1
    hints = torch.zeros(1, 3, 64, 64)
    hints[0, 0, 30:34, 30:34], hints[0, 2, 30:34, 30:34] = 0.4, 1.0
    with torch.no_grad():
        alone = plain(lum)
        assert torch.equal(hinted(lum), alone)
        assert torch.equal(hinted(lum, hints=hints), alone)  # untrained hint weights start at zero
        assert torch.equal(hinted(lum, hints=torch.zeros_like(hints)), alone)
        for encoder in hinted.hint_encoders:
            torch.nn.init.normal_(encoder.conv2.weight, std=0.1)
        steered = hinted(lum, hints=hints)
        assert torch.equal(hinted(lum, hints=torch.zeros_like(hints)), alone)  # no hint: no change
    assert not torch.allclose(steered, alone, atol=1e-3)
    with pytest.raises(ValueError, match="takes no colour hints"):
        plain(lum, hints=hints)


def test_training_with_hint_inputs_from_a_checkpoint_without_them(tmp_path):
    data = learnable_images(tmp_path / "data", n=8)
    first = train(
        config(tmp_path, data, model="effnet_unet", epochs=1, output=str(tmp_path / "a.safetensors"))
    )
    result = train(
        config(tmp_path, data, model="effnet_unet", epochs=2, hint_inputs=True, init_from=first["best"])
    )
    record = result["history"][-1]
    assert record["val_loss_hints"] < record["val_loss"]  # the hints were learnt from
    assert record["images"] == 2 * 8 and record["val_ciede2000"] > 0
    header, tensors = read_checkpoint(result["best"])
    assert header["config"]["hint_inputs"] is True
    assert any(k.startswith("hint_encoders.") for k in tensors)
    assert load_model(result["best"]).config.hint_inputs


def test_hint_inputs_are_for_effnet_unet_only(tmp_path):
    with pytest.raises(UsageError, match="--hint-inputs is for effnet_unet, not baseline"):
        train(config(tmp_path, tmp_path, hint_inputs=True))
