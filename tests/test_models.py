import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from bwcolor.models import create_model, list_models
from bwcolor.models.backbones import BackboneWeightsMissing, EfficientNetLite0, create_backbone
from bwcolor.models.fusion import gray_from_lum
from bwcolor.models.inception_resnet_v2 import InceptionResNetV2


def n_params(model, trainable_only=False):
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def test_registry_lists_both_networks():
    assert {"baseline", "fusion"} <= set(list_models())
    with pytest.raises(KeyError, match="unknown model"):
        create_model("nope")
    with pytest.raises(TypeError, match="unknown option"):
        create_model("baseline", depth=3)


def test_baseline_matches_the_papers_table():
    model = create_model("baseline")
    assert n_params(model) == 231_682
    shapes = []
    x = torch.zeros(1, 1, 256, 256)
    for layer in model.layers:
        x = layer(x)
        if isinstance(layer, torch.nn.Conv2d):
            shapes.append((layer.in_channels, layer.out_channels, x.shape[-1]))
    assert shapes == [
        (1, 32, 256), (32, 32, 128), (32, 64, 128), (64, 64, 64),
        (64, 128, 64), (128, 64, 128), (64, 32, 256), (32, 2, 256),
    ]  # fmt: skip
    out = model(torch.randn(2, 1, 256, 256))
    assert out.shape == (2, 2, 256, 256) and out.abs().max() <= 1


@pytest.fixture(scope="module")
def fusion():
    torch.manual_seed(0)
    return create_model("fusion").eval()


@pytest.mark.parametrize("hw", [(64, 64), (40, 96), (8, 256)])
def test_fusion_any_multiple_of_8(fusion, hw):
    with torch.no_grad():
        out = fusion(torch.rand(2, 1, *hw) * 2 - 1)
    assert out.shape == (2, 2, *hw) and out.abs().max() <= 1


def test_fusion_equals_replicate_and_concatenate(fusion):
    """The broadcast-add fusion is the paper's concatenate + 1x1 conv, computed cheaply."""
    lum = torch.rand(1, 1, 64, 48) * 2 - 1
    with torch.no_grad():
        emb = fusion.embed(lum)
        feats = fusion.encoder(lum)
        grid = emb[:, :, None, None].expand(-1, -1, *feats.shape[-2:])
        naive = F.relu(fusion.fusion(torch.cat([feats, grid], 1)))
        expected = fusion.decoder(naive)
        assert torch.allclose(fusion(lum), expected, atol=1e-5)


def test_fusion_backbone_is_frozen_and_stays_in_eval(fusion):
    trainable = {n for n, p in fusion.named_parameters() if p.requires_grad}
    assert trainable and not any(n.startswith("backbone.") for n in trainable)
    fusion.train()
    assert not fusion.backbone.training and not fusion.backbone.net.training
    assert fusion.encoder.training
    fusion.eval()


def test_gray_from_lum_inverts_lightness(fusion):
    from bwcolor import lab

    g = np.linspace(0, 1, 101, dtype=np.float32)
    lum = torch.from_numpy(lab.gray_to_lightness(g) / 50 - 1)
    assert torch.allclose(gray_from_lum(lum, fusion.normalisation), torch.from_numpy(g), atol=1e-4)


def test_efficientnet_lite0_classifies_a_real_photo():
    net = EfficientNetLite0()
    coffee = torch.from_numpy(data.coffee()).permute(2, 0, 1)[None].float() / 255
    gray = (coffee * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)
    assert net(gray).argmax().item() == 967  # espresso, from the gray image alone


def test_inception_resnet_v2_has_the_standard_parameter_count():
    model = InceptionResNetV2()
    assert n_params(model) == 55_843_464
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, 299, 299)).shape == (1, 1000)


def test_inception_resnet_v2_without_weights_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.delenv("BWCOLOR_INCEPTION_RESNET_V2_WEIGHTS", raising=False)
    with pytest.raises(BackboneWeightsMissing, match="--backbone-weights"):
        create_backbone("inception_resnet_v2")
    with pytest.raises(BackboneWeightsMissing, match="not found"):
        create_backbone("inception_resnet_v2", str(tmp_path / "missing.pth"))


def test_inception_resnet_v2_loads_a_local_state_dict(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    ref = InceptionResNetV2()
    state = {k.replace("classif.", "last_linear."): v for k, v in ref.state_dict().items()}
    save_file(state, tmp_path / "irv2.safetensors")
    fusion = create_model(
        "fusion", backbone="inception_resnet_v2", backbone_weights=str(tmp_path / "irv2.safetensors")
    )
    assert torch.equal(fusion.backbone.net.classif.weight, ref.classif.weight)
    assert fusion.backbone.input_size == 299


def test_embedding_dropout_acts_only_in_training():
    torch.manual_seed(0)
    model = create_model("fusion", embedding_dropout=0.5)
    lum = torch.rand(1, 1, 32, 32) * 2 - 1
    emb = torch.randn(1, 1000) * 5
    with torch.no_grad():
        model.train()
        assert not torch.equal(model(lum, emb), model(lum, emb))
        model.eval()
        assert torch.equal(model(lum, emb), model(lum, emb))


@pytest.mark.parametrize("hw", [(64, 64), (40, 96), (8, 8)])
def test_effnet_unet_any_multiple_of_8(hw):
    model = create_model("effnet_unet").eval()
    lum = torch.rand(2, 1, *hw) * 2 - 1
    with torch.no_grad():
        ab = model(lum)
        if min(hw) >= 32:  # (smaller inputs are padded for the encoder)
            assert torch.equal(model(lum, model.features(lum)), ab)  # cached features give the same
    assert ab.shape == (2, 2, *hw) and ab.abs().max() <= 1


def test_effnet_unet_encoder_is_frozen_and_left_out_of_checkpoints(tmp_path):
    from bwcolor import load_model, save_checkpoint

    torch.manual_seed(0)
    model = create_model("effnet_unet", render_size=64)
    model.train()
    assert not model.encoder.training
    assert all(not p.requires_grad for p in model.encoder.parameters())
    path = save_checkpoint(model, tmp_path / "u.safetensors")
    assert path.stat().st_size < 12e6  # the decoder only (2.45 M parameters)
    loaded = load_model(path)
    lum = torch.rand(1, 1, 32, 48) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(loaded(lum), model.eval()(lum), atol=1e-6)


def test_a_checkpoints_normalisation_is_the_one_the_model_uses(tmp_path):
    """Saved with another normalisation, a model converts with it everywhere: its input L (the
    classifier's gray image) and its colour classes' ab scale, not with hard-coded constants."""
    from bwcolor.image.colorize import predict_ab  # noqa: I001
    from bwcolor.lab import Normalisation
    from bwcolor.models.checkpoint import load_model, save_checkpoint

    torch.manual_seed(0)
    model = create_model("effnet_unet", render_size=64).eval()
    other = Normalisation(l_scale=100.0, l_offset=0.0, ab_scale=55.0)
    loaded = load_model(save_checkpoint(model, tmp_path / "m.safetensors", other))
    assert loaded.normalisation == other and loaded.head.ab_scale == 55.0
    lum = torch.linspace(0, 1, 64)[None, None, None].expand(1, 1, 48, 64).contiguous()
    gray_default = gray_from_lum(lum * 2 - 1, Normalisation())  # the same L under each scheme
    assert torch.allclose(gray_from_lum(lum, other), gray_default, atol=1e-5)
    from bwcolor.models.colour_classes import class_centres

    assert torch.allclose(loaded.head.centres * 55.0, class_centres())  # decoded ab follow ab_scale
    assert np.isfinite(predict_ab(loaded, lum[0].numpy())).all()


def test_fine_tuned_encoder_blocks_learn_more_slowly_than_the_decoder():
    from bwcolor.models.effnet_unet import ENCODER_LR_SCALE, EffNetUNetTraining
    from bwcolor.models.hooks import TrainingHooks

    model = create_model("effnet_unet", render_size=64, tune_encoder_blocks=2)
    decoder, encoder = EffNetUNetTraining().param_groups(model, 1e-3)
    assert decoder["lr"] == 1e-3 and encoder["lr"] == pytest.approx(1e-3 * ENCODER_LR_SCALE)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].startswith("encoder.") for p in encoder["params"])
    assert not any(names[id(p)].startswith("encoder.") for p in decoder["params"])
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert {id(p) for g in (decoder, encoder) for p in g["params"]} == trainable
    frozen = create_model("effnet_unet", render_size=64)
    assert len(EffNetUNetTraining().param_groups(frozen, 1e-3)) == 1  # nothing of the encoder trains
    (only,) = TrainingHooks().param_groups(create_model("baseline"), 1e-3)
    assert len(only["params"]) == sum(1 for p in create_model("baseline").parameters() if p.requires_grad)


def test_effnet_unet_can_fine_tune_its_encoders_last_blocks(tmp_path):
    from bwcolor.models.checkpoint import load_model, save_checkpoint
    from bwcolor.models.colour_classes import class_loss

    torch.manual_seed(0)
    frozen = create_model("effnet_unet", render_size=64)
    assert not any(k.startswith("encoder.") for k in frozen.trainable_state_dict())
    model = create_model("effnet_unet", render_size=64, tune_encoder_blocks=2).train()
    tuned = [n for n, p in model.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    assert tuned and all(n.startswith(("encoder.net._blocks.14.", "encoder.net._blocks.15.",
                                       "encoder.net._conv_head", "encoder.net._bn1", "encoder.net._fc")) for n in tuned)  # fmt: skip
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    stats = model.encoder.net._blocks[15]._bn2.running_mean.clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    lum = torch.rand(2, 1, 64, 64) * 2 - 1
    class_loss(model(lum, logits=True), torch.rand(2, 2, 64, 64) - 0.5, 110.0).mean().backward()
    opt.step()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert "encoder.net._blocks.15._project_conv.weight" in moved
    assert not any(n.startswith("encoder.net._blocks.13.") or "_conv_stem" in n for n in moved)
    assert torch.equal(model.encoder.net._blocks[15]._bn2.running_mean, stats)  # ImageNet statistics kept
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    again = load_model(path)
    assert torch.equal(
        again.encoder.net._blocks[15]._project_conv.weight, model.encoder.net._blocks[15]._project_conv.weight
    )
