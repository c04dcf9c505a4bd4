"""Damaged checkpoints, failing forward passes and unexpected errors: one clear line each, the
right exit code, and a batch that goes on."""

import json
import math
import sys

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

from bwcolor.image import colorize as core
from bwcolor.models.checkpoint import read_checkpoint
from tests.conftest import gradient_rgb, gray_of, write


def rewrite_header(src, dst, **changes):
    """A copy of checkpoint ``src`` with header fields replaced (raw strings, as on disk)."""
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        header = dict(f.metadata())
    header.update(changes)
    save_file(load_file(str(src)), str(dst), metadata=header)
    return dst


@pytest.fixture()
def photos(tmp_path):
    for i in range(3):
        write(tmp_path / "in" / f"p{i}.png", gray_of(gradient_rgb(24 + 8 * i, 40, seed=i)))
    return tmp_path / "in"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("config", "[1, 2]", "config is not a JSON object"),
        ("config", '"render_size"', "config is not a JSON object"),
        ("config", '{"render_size": "abc"}', "render_size='abc' is not a number"),
        ("config", '{"render_size": 0}', "render_size=0 is not a multiple of 8 between 16 and 2048"),
        ("config", '{"render_size": -8}', "render_size=-8 is not a multiple of 8"),
        ("normalisation", '{"l_scale": 50, "l_offset": 1}', "normalisation: missing ab_scale"),
        ("normalisation", '{"l_scale": 50, "l_offset": 1, "ab_scale": 0}', "must be positive"),
        ("normalisation", '{"l_scale": 50, "l_offset": 1, "ab_scale": NaN}', "ab_scale=nan is not a finite"),
        ("meta", "[]", "meta is not a JSON object"),
        ("model", "resnet", "unknown model 'resnet'"),
    ],
)
def test_a_malformed_header_is_one_line_and_exit_2(
    tmp_path, cli, baseline_ckpt, photos, field, value, message
):
    bad = rewrite_header(baseline_ckpt, tmp_path / "bad.safetensors", **{field: value})
    res = cli("colorize", photos, "-o", tmp_path / "out", "-m", bad)
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "invalid checkpoint header" in res.stderr
    assert "Traceback" not in res.output and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "model, config, message",
    [
        ("effnet_unet", {"head": "bogus"}, "head='bogus' is not 'regression' or 'classes'"),
        ("effnet_unet", {"tune_encoder_blocks": 999}, "tune_encoder_blocks=999 is not between 0 and 16"),
        ("effnet_unet", {"tune_encoder_blocks": -3}, "tune_encoder_blocks=-3 is not between 0 and 16"),
        ("effnet_unet", {"class_prior": [0.5, 0.5]}, "class_prior has 2 values, not one per class"),
        ("fusion", {"embedding_dropout": 5.0}, "embedding_dropout=5.0 is not in [0, 1)"),
        ("fusion", {"backbone": "vgg"}, "backbone='vgg' is not one of"),
    ],
)
def test_crafted_model_settings_are_one_line_and_exit_2(
    tmp_path, cli, fusion_ckpt, photos, model, config, message
):
    from bwcolor.shipped import weights_dir

    src = weights_dir() / "effnet_unet.safetensors" if model == "effnet_unet" else fusion_ckpt
    header, _ = read_checkpoint(src)
    bad = rewrite_header(src, tmp_path / "bad.safetensors", config=json.dumps({**header["config"], **config}))
    res = cli("colorize", photos, "-o", tmp_path / "out", "-m", bad)
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "invalid checkpoint header" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_header_nested_too_deeply_is_one_line_and_exit_2(tmp_path, cli, baseline_ckpt, photos):
    bad = rewrite_header(baseline_ckpt, tmp_path / "deep.safetensors", meta="[" * 200_000 + "]" * 200_000)
    res = cli("colorize", photos, "-o", tmp_path / "out", "-m", bad)
    assert res.exit_code == 2 and "corrupt checkpoint header" in res.stderr, res.output


def test_backbone_weights_come_from_the_user_never_from_the_file(tmp_path, cli, fusion_ckpt, photos):
    """A received checkpoint naming a local file as its backbone weights must not get it read."""
    import os
    import pickle

    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Boom()))
    header, _ = read_checkpoint(fusion_ckpt)
    crafted = {
        **header["config"],
        "backbone": "inception_resnet_v2",
        "backbone_weights": str(tmp_path / "evil.pt"),
    }
    bad = rewrite_header(fusion_ckpt, tmp_path / "bad.safetensors", config=json.dumps(crafted))
    res = cli("colorize", photos, "-o", tmp_path / "out", "-m", bad)
    assert res.exit_code == 2 and "--backbone-weights" in res.stderr, res.output
    assert not marker.exists()


def test_nan_weights_are_refused_when_loading(tmp_path, cli, baseline_ckpt, photos):
    tensors = load_file(str(baseline_ckpt))
    key = sorted(tensors)[0]
    tensors[key][...] = math.nan
    header, _ = read_checkpoint(baseline_ckpt)
    raw = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in header.items()}
    save_file(tensors, str(tmp_path / "nan.safetensors"), metadata=raw)
    res = cli("colorize", photos, "-o", tmp_path / "out", "-m", tmp_path / "nan.safetensors")
    assert res.exit_code == 2 and "damaged weights" in res.stderr and "NaN" in res.stderr


def test_non_finite_predictions_never_reach_the_picture(tmp_path, cli, baseline_ckpt, photos, monkeypatch):
    real = core.predict_ab

    def sometimes_nan(model, inputs, hints=None):
        ab = real(model, inputs)
        if inputs.shape[-2] == 40:  # p0's render shape is 40x64 (the others: 48x64, 64x64)
            ab[...] = np.nan
        return ab

    monkeypatch.setattr(core, "predict_ab", sometimes_nan)
    res = cli("colorize", photos, "-o", tmp_path / "out", "-m", baseline_ckpt, "--batch-size", "1")
    assert res.exit_code == 1
    assert "p0.png: the model predicted NaN or infinite colours" in res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p1.png", "p2.png"]


def test_a_failing_forward_pass_is_retried_alone_and_the_batch_goes_on(
    tmp_path, cli, baseline_ckpt, photos, monkeypatch
):
    real = core.predict_ab
    calls = []

    def flaky(model, inputs, hints=None):
        calls.append(inputs.shape)
        if len(inputs) > 1:
            raise RuntimeError("not enough memory: you tried to allocate 80 GB")
        if inputs.shape[-2:] == (64, 64):  # the square photos, even alone
            raise RuntimeError("not enough memory")
        return real(model, inputs)

    for i in range(3, 6):  # three photos of one shape: one batch of 3
        write(photos / f"s{i}.png", gray_of(gradient_rgb(40, 40, seed=i)))
    monkeypatch.setattr(core, "predict_ab", flaky)
    res = cli("colorize", photos, "-o", tmp_path / "out", "-m", baseline_ckpt, "--batch-size", "3")
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "out").iterdir())) == 6
    assert "the network failed at 64x64: colorized from 32x32" in res.stderr  # the square ones
    assert (3, 64, 64) in calls and (1, 32, 32) in calls


def test_an_image_the_network_cannot_do_fails_alone(tmp_path, cli, baseline_ckpt, photos, monkeypatch):
    real = core.predict_ab

    def broken_for_p1(model, inputs, hints=None):
        if inputs.shape[-2] in (48, 24):  # p1's render shape, 48x64, and half of it
            raise RuntimeError("DefaultCPUAllocator: not enough memory")
        return real(model, inputs)

    monkeypatch.setattr(core, "predict_ab", broken_for_p1)
    res = cli("colorize", photos, "-o", tmp_path / "out", "-m", baseline_ckpt, "--json")
    assert res.exit_code == 1
    assert (
        "p1.png: the network failed on this image (out of memory); try a smaller --render-size" in res.stderr
    )
    summary = json.loads(res.stdout)
    assert (summary["done"], summary["failed"]) == (2, 1)


def test_render_size_beyond_the_maximum_is_refused(tmp_path, cli, baseline_ckpt, photos):
    res = cli("colorize", photos, "-o", tmp_path / "out", "-m", baseline_ckpt, "--render-size", "4096")
    words = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "--render-size" in words and "less than or equal to 2048" in words


def test_an_unexpected_error_is_one_line_and_exit_70_unless_debugging(tmp_path, monkeypatch, capsys, photos):
    from bwcolor import cli
    from bwcolor.pipeline import jobs

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(jobs, "plan", bug)
    monkeypatch.setattr(sys, "argv", ["bwcolor", "colorize", str(photos), "-o", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as ended:
        cli.run()
    assert ended.value.code == 70
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "bwcolor: error: unexpected ZeroDivisionError: a bug (rerun with --debug for the traceback)"
    )
    monkeypatch.setattr(
        sys, "argv", ["bwcolor", "--debug", "colorize", str(photos), "-o", str(tmp_path / "o")]
    )
    with pytest.raises(ZeroDivisionError):
        cli.run()
    monkeypatch.setenv("BWCOLOR_DEBUG", "1")
    monkeypatch.setattr(sys, "argv", ["bwcolor", "colorize", str(photos), "-o", str(tmp_path / "o")])
    with pytest.raises(ZeroDivisionError):
        cli.run()


def test_plain_bwcolor_prints_the_help_and_succeeds(cli):
    res = cli()
    assert res.exit_code == 0 and "Usage" in res.output and "colorize" in res.output
    assert cli("-V").output.startswith("bwcolor ")


def test_a_checkpoint_header_can_be_checked_without_loading_weights():
    from bwcolor.models.checkpoint import config_problem

    assert config_problem("effnet_unet", {"render_size": 256, "temperature": 0.38}) is None
    assert "temperature=0 is not positive" in config_problem("effnet_unet", {"temperature": 0})
    assert "head=3 is not text" in config_problem("effnet_unet", {"head": 3})
    assert "hue_boost=-1 is not between 0 and 4" in config_problem("effnet_unet", {"hue_boost": -1})
    assert "hue_power=0 is not between 0 and 16" in config_problem("effnet_unet", {"hue_power": 0})
    assert config_problem("effnet_unet", {"hue_boost": 0.45, "hue_power": 2.0}) is None


def test_python_callers_get_the_command_lines_checks_of_render_size_and_saturation(tmp_path):
    """Checked in the library, before any file is read: a Python call is refused as the CLI is."""
    from bwcolor import colorize_image, colorize_paths, load_model
    from bwcolor.errors import UsageError
    from bwcolor.quality.evaluate import evaluate

    write(tmp_path / "in" / "a.png", gradient_rgb(32, 48))
    model = load_model("gray")
    for bad, why in (({"render_size": 5000}, "--render-size 5000"), ({"render_size": 100}, "multiple of 8"),
                     ({"saturation": -1.0}, "--saturation -1")):  # fmt: skip
        with pytest.raises(UsageError, match=why):
            colorize_paths([tmp_path / "in"], tmp_path / "out", "gray", **bad)
        with pytest.raises(UsageError, match=why):
            colorize_image(model, gradient_rgb(32, 48), **bad)
        with pytest.raises(UsageError, match=why):
            evaluate([tmp_path / "in" / "a.png"], {"gray": model}, **bad)
    assert not (tmp_path / "out").exists()
