"""What depends on the device, checked on this CPU: precision, padded shapes, threads and passes."""

import numpy as np
import pytest
import torch

from bwcolor.device import resolve_precision
from bwcolor.errors import UsageError
from bwcolor.files.decode import read_image
from bwcolor.image import colorize
from bwcolor.image.colorize import pad_to_step, predict_ab
from bwcolor.models.checkpoint import load_model
from bwcolor.pipeline import photos
from tests.conftest import gradient_rgb, gray_of, write


@pytest.mark.parametrize(("h", "w"), [(168, 256), (256, 8), (64, 64), (8, 8), (200, 136)])
def test_padding_reaches_the_step_and_keeps_the_picture(h, w):
    x = torch.rand(2, 1, h, w)
    padded = pad_to_step(x, 64)
    assert padded.shape[-2] % 64 == 0 and padded.shape[-1] % 64 == 0
    assert padded.shape[-2] - h < 64 and padded.shape[-1] - w < 64
    assert torch.equal(padded[..., :h, :w], x)
    if 0 < padded.shape[-1] - w < w:  # mirrored: the column past the edge is the one before it
        assert torch.equal(padded[..., :h, w], x[..., w - 2])


def test_padded_prediction_has_the_input_shape_and_the_model_sees_few_shapes(monkeypatch, baseline_ckpt):
    model = load_model(baseline_ckpt)
    seen = set()
    model.register_forward_pre_hook(lambda m, args: seen.add(tuple(args[0].shape[-2:])))
    rng = np.random.default_rng(0)
    inputs = {shape: rng.uniform(-1, 1, (1, *shape)).astype(np.float32) for shape in
              [(168, 256), (176, 256), (192, 256), (256, 168), (200, 256), (144, 256)]}  # fmt: skip
    plain = {shape: predict_ab(model, x) for shape, x in inputs.items()}
    assert seen == set(inputs)
    monkeypatch.setitem(colorize.SHAPE_STEP, "cpu", 64)
    seen.clear()
    for shape, x in inputs.items():
        ab = predict_ab(model, x)
        assert ab.shape == (1, *shape, 2)
        # Far from the padded edges the prediction is the unpadded one.
        np.testing.assert_allclose(ab[0, :100, :100], plain[shape][0, :100, :100], atol=1e-3)
    assert seen == {(192, 256), (256, 192), (256, 256)}


def test_precision_is_checked_against_the_device():
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("BF16", torch.device("cpu")) == "bf16"
    assert resolve_precision("fp16", torch.device("cuda")) == "fp16"
    with pytest.raises(UsageError, match="fp16: not supported on a CPU"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(UsageError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", torch.device("cpu"))


def test_bf16_changes_the_colours_by_little(baseline_ckpt):
    x = np.random.default_rng(1).uniform(-1, 1, (2, 64, 96)).astype(np.float32)
    fp32 = predict_ab(load_model(baseline_ckpt, precision="fp32"), x)
    bf16 = predict_ab(load_model(baseline_ckpt, precision="bf16"), x)
    assert not np.array_equal(fp32, bf16)  # the forward pass really ran in bf16
    assert np.abs(fp32 - bf16).max() < 2.0  # Lab units


def test_file_threads_and_inference_plan_by_device(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(photos.os, "cpu_count", lambda: 16)
    assert photos.default_workers(cpu) == 2 and photos.default_workers(cuda) == 8
    assert photos.inference_plan(cpu, 2) == (1, 12)  # 16 cores: 4 left to decoding and encoding
    assert photos.inference_plan(cuda, 8) == (1, None)
    monkeypatch.setattr(photos.os, "cpu_count", lambda: 2)
    assert photos.default_workers(cuda) == 2
    assert photos.inference_plan(cpu, 2) == (2, 1)  # 2 cores: two single-threaded passes at once
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert photos.inference_plan(cpu, 2) == (1, None)  # the user's setting stands


def test_two_passes_at_once_give_the_outputs_of_one(tmp_path, cli, baseline_ckpt, monkeypatch):
    for i in range(7):
        write(tmp_path / "in" / f"{i}.png", gray_of(gradient_rgb(40 + 8 * (i % 3), 64, seed=i)))
    monkeypatch.setattr(photos, "inference_plan", lambda device, workers: (1, None))
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "one", "-m", baseline_ckpt, "--batch-size", "2")
    assert res.exit_code == 0, res.output
    monkeypatch.setattr(photos, "inference_plan", lambda device, workers: (2, 1))
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "two", "-m", baseline_ckpt, "--batch-size", "2")
    assert res.exit_code == 0, res.output
    one, two = sorted((tmp_path / "one").iterdir()), sorted((tmp_path / "two").iterdir())
    assert [p.name for p in two] == [p.name for p in one] and len(one) == 7
    for a, b in zip(one, two, strict=True):  # one thread or two may round the last bit apart
        diff = np.abs(read_image(a).pixels.astype(int) - read_image(b).pixels.astype(int))
        assert diff.max() <= 1, a.name
