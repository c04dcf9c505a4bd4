"""`bwcolor train` on tiny generated data: no test trains a real model."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bwcolor import load_model
from bwcolor.errors import UsageError
from bwcolor.models.checkpoint import read_checkpoint
from bwcolor.training.trainer import TrainConfig, TrainingInterrupted, train
from tests.conftest import gradient_rgb, write


def learnable_images(folder, n=12, size=48, seed=0):
    """Colour is a function of brightness: dark pixels blue, bright pixels orange."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        t = rng.random((size // 8, size // 8)).astype(np.float32)
        t = np.kron(t, np.ones((8, 8), np.float32))
        rgb = np.stack([t, 0.6 * t + 0.1, 1 - t], -1)
        write(folder / f"img{i:02d}.png", (rgb * 255).astype(np.uint8))
    return folder


def config(tmp_path, data, **kw):
    val = tmp_path / "val"
    if not val.exists():
        learnable_images(val, n=4, seed=99)
    base = dict(
        data=[str(data)], output=str(tmp_path / "out" / "m.safetensors"), model="baseline", crop_size=32,
        epochs=2, batch_size=4, lr=3e-3, val_fraction=0.0, val=[str(val)], workers=1,
        cache_dir=str(tmp_path / "cache"), device="cpu",
    )  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def test_training_lowers_the_loss_on_a_learnable_task(tmp_path):
    data = learnable_images(tmp_path / "data", n=16)
    untrained = train(config(tmp_path, data, epochs=1, lr=1e-12, output=str(tmp_path / "u.safetensors")))
    trained = train(config(tmp_path, data, epochs=8, lr=1e-2))
    assert trained["best_val_loss"] < 0.6 * untrained["best_val_loss"]
    assert trained["best_val_loss"] < 0.6 * trained["gray_val_loss"]  # beats a=b=0 by far
    model = load_model(trained["best"])
    assert model.config.render_size == 64  # 2 x image size by default
    lines = (tmp_path / "out" / "m.log.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == list(range(1, 9))


def test_resume_equals_an_uninterrupted_run(tmp_path):
    data = learnable_images(tmp_path / "data", n=10)
    full = train(config(tmp_path, data, epochs=2, output=str(tmp_path / "a" / "m.safetensors")))
    batches = 0

    def interrupt(kind, **_):
        nonlocal batches
        if kind == "batch":
            batches += 1
            if batches == 4:  # in the middle of the second epoch (3 batches per epoch)
                raise KeyboardInterrupt

    cfg = config(tmp_path, data, epochs=2, output=str(tmp_path / "b" / "m.safetensors"))
    with pytest.raises(TrainingInterrupted) as stopped:
        train(cfg, on_event=interrupt)
    header, _ = read_checkpoint(stopped.value.path)
    assert (header["meta"]["train_state"]["epoch"], header["meta"]["train_state"]["batch"]) == (1, 1)
    resumed = train(resume=stopped.value.path)
    a = read_checkpoint(full["last"])[1]
    b = read_checkpoint(resumed["last"])[1]
    for key in a:
        if key.startswith("layers."):
            assert torch.allclose(a[key], b[key], atol=1e-6), key
    assert [h["train_loss"] for h in resumed["history"]] == pytest.approx(
        [h["train_loss"] for h in full["history"]]
    )


def test_cache_is_reused_across_epochs_and_runs(tmp_path, monkeypatch):
    from bwcolor.training import dataset

    data = learnable_images(tmp_path / "data", n=6)
    calls = []
    real = dataset.read_image
    monkeypatch.setattr(dataset, "read_image", lambda p: calls.append(p) or real(p))
    first = train(config(tmp_path, data, epochs=3, val=None, val_fraction=0.3))
    assert len(calls) == 6 and first["data"]["decoded"] == 6
    second = train(config(tmp_path, data, epochs=1, val=None, val_fraction=0.3))
    assert len(calls) == 6 and second["data"]["decoded"] == 0
    assert second["data"]["train"] == first["data"]["train"]


def test_fusion_trains_with_cached_embeddings(tmp_path):
    data = learnable_images(tmp_path / "data", n=8)
    result = train(config(tmp_path, data, model="fusion", epochs=4))
    history = result["history"]
    assert history[-1]["val_loss"] < history[0]["val_loss"] < result["gray_val_loss"]
    assert len(list((tmp_path / "cache").rglob("*.emb16.npy"))) == 8 + 4  # training and validation
    assert load_model(result["best"]).config.backbone == "efficientnet_lite0"


def test_gray_or_broken_data_is_a_clear_error(tmp_path, cli):
    folder = tmp_path / "gray"
    write(folder / "g.png", np.full((40, 40), 128, np.uint8))
    write(folder / "rgbgray.png", np.full((40, 40, 3), 90, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(UsageError, match="no usable training images: 3 found, 2 grayscale"):
        train(config(tmp_path, folder, val=None))
    res = cli("train", folder, "-o", tmp_path / "m.safetensors", "--cache-dir", tmp_path / "c2", "-q")
    assert res.exit_code == 2 and "no usable training images" in res.stderr and "Traceback" not in res.output
    assert cli("train").exit_code == 2


def test_patience_stops_when_validation_stops_improving(tmp_path):
    from bwcolor.training.trainer import _epochs_since_best

    assert _epochs_since_best([{"val_loss": v} for v in (0.3, 0.2, 0.25, 0.26)]) == 2
    data = learnable_images(tmp_path / "data", n=8)
    result = train(config(tmp_path, data, epochs=6, lr=1e-12, patience=1))  # lr ~0: no improvement
    assert len(result["history"]) < 6


def test_rebalance_weights_favour_rare_saturated_colours():
    from bwcolor.models.colour_classes import AB_CELLS
    from bwcolor.training.trainer import rebalance_weights

    gray = np.full((16, 16, 3), 120, np.uint8)
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 200
    w = rebalance_weights([gray] * 9 + [red], lam=0.5, scale=110.0).reshape(AB_CELLS, AB_CELLS)
    centre = w[AB_CELLS // 2, AB_CELLS // 2]
    assert w.max() > 2 * centre  # the rare red bins weigh more than the common gray one
    assert (w >= 0).all()


def test_training_with_rebalancing_weighs_the_loss_and_learns(tmp_path):
    data = learnable_images(tmp_path / "data", n=8)
    plain = train(config(tmp_path, data, epochs=3, output=str(tmp_path / "p" / "m.safetensors")))
    weighted = train(config(tmp_path, data, epochs=3, rebalance=0.5))
    assert weighted["history"][0]["train_loss"] != pytest.approx(plain["history"][0]["train_loss"], rel=1e-3)
    assert weighted["history"][-1]["val_mse"] < weighted["gray_val_loss"]  # colours better than gray


def test_effnet_unet_trains_on_random_crops_with_its_frozen_encoder(tmp_path):
    data = learnable_images(tmp_path / "data", n=8)
    result = train(config(tmp_path, data, model="effnet_unet", epochs=4, lr=3e-3))
    assert result["history"][-1]["val_loss"] < result["history"][0]["val_loss"]
    assert result["loss_name"] == "cross-entropy over ab classes"
    assert not list((tmp_path / "cache").rglob("*.views.npy"))  # features are computed, not stored
    header, tensors = read_checkpoint(result["best"])
    assert not any(k.startswith("encoder.") for k in tensors)  # the frozen encoder is not saved
    prior = header["config"]["class_prior"]  # the training colours' frequencies, for decoding
    assert len(prior) == 268 and min(prior) > 0 and sum(prior) == pytest.approx(1, abs=1e-4)
    assert prior.index(max(prior)) != 0  # the learnable photos are orange-blue, not the gamut's corner


def test_an_unknown_model_is_refused_before_any_image_is_read(tmp_path, cli, monkeypatch):
    from bwcolor.training import dataset

    data = learnable_images(tmp_path / "data", n=4)
    monkeypatch.setattr(dataset, "load_images", lambda *a, **k: pytest.fail("images were read"))
    res = cli("train", data, "-m", "effnet-unet", "-o", tmp_path / "m.safetensors")
    assert (
        res.exit_code == 2
        and "unknown model 'effnet-unet' to train: use one of baseline, effnet_unet, fusion" in res.stderr
    )


@pytest.mark.parametrize(
    "options, message",
    [
        (["--render-size", "12"], "--render-size 12: must be a multiple of 8 between 16 and 2048"),
        (["--render-size", "4096"], "--render-size 4096: must be a multiple of 8"),
        (["--render-size", "-8"], "--render-size -8: must be a multiple of 8"),
        (["--crop-size", "1032"], "--render-size (2 x --crop-size) 2064: must be a multiple of 8"),
        (["--cache-dir", "{tmp}/a-file"], "a-file: not a folder"),
        (["--cache-dir", "/dev/null"], "--cache-dir /dev/null: not a folder"),
        (["--cache-dir", "{tmp}/a-file/sub"], "a-file/sub: cannot write there"),
        (["--cache-dir", "/proc/bwcolor-cache"], "--cache-dir /proc/bwcolor-cache: cannot write there"),
        (["--init-from", "{tmp}/typo.safetensors"], "typo.safetensors: checkpoint not found"),
        (["--init-from", "fusion"], "--init-from fusion: a fusion checkpoint, not baseline"),
        (["--decoding", "temperature=0.3"], "--decoding: baseline has no decoding settings (temperature)"),
        (["--decoding", "hue=1"], "--decoding hue=1: give KEY=VALUE, KEY one of temperature"),
    ],
)
def test_what_would_fail_later_is_refused_before_any_image_is_read(
    tmp_path, cli, monkeypatch, options, message
):
    """A run that could not be saved, cached or started must not first hash and decode the data
    (or, worse, train to the end and leave a checkpoint nothing accepts)."""
    from bwcolor.training import dataset

    data = learnable_images(tmp_path / "data", n=4)
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setattr(dataset, "load_images", lambda *a, **k: pytest.fail("images were read"))
    options = [o.replace("{tmp}", str(tmp_path)) for o in options]
    res = cli("train", data, "-m", "baseline", "-o", tmp_path / "m.safetensors", "--cache-dir", tmp_path / "c",
              *options)  # fmt: skip
    assert res.exit_code == 2, res.output
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_a_run_that_diverges_stops_with_an_error_and_keeps_its_last_good_checkpoint(tmp_path, cli):
    data = learnable_images(tmp_path / "data", n=8)
    out = tmp_path / "m.safetensors"
    args = ["train", data, "-m", "baseline", "-o", out, "--crop-size", "32", "--batch-size", "4",
            "--epochs", "3", "--val-fraction", "0.25", "--cache-dir", tmp_path / "cache"]  # fmt: skip
    res = cli(*args, "--lr", "1e9")
    assert res.exit_code == 2, res.output
    assert "training diverged: the loss became NaN or infinite" in res.stderr, res.stderr
    assert not out.exists()  # no best checkpoint is named that was never written
    last = tmp_path / "m.last.safetensors"
    if last.exists():  # a checkpoint saved before the loss broke holds finite weights
        assert all(
            torch.isfinite(v).all() for v in read_checkpoint(last)[1].values() if v.is_floating_point()
        )
    for lr in ("nan", "inf", "0"):
        res = cli(*args, "--lr", lr)
        assert res.exit_code == 2 and "--lr must be positive (and finite)" in res.stderr, res.output


def test_files_at_the_derived_names_that_are_not_bwcolors_are_never_overwritten(tmp_path, cli):
    data = learnable_images(tmp_path / "data", n=8)
    args = ["train", data, "-m", "baseline", "--crop-size", "32", "--batch-size", "4", "--epochs", "1",
            "--val-fraction", "0.25", "--cache-dir", tmp_path / "cache"]  # fmt: skip
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.log.jsonl").write_text("my own notes\n")
    write(tmp_path / "b" / "m.loss.png", np.zeros((8, 8, 3), np.uint8))  # a photo, not a plot
    for folder, name in (("a", "m.log.jsonl"), ("b", "m.loss.png")):
        before = (tmp_path / folder / name).read_bytes()
        res = cli(*args, "-o", tmp_path / folder / "m.safetensors")
        assert res.exit_code == 2 and f"{name} exists and is not a bwcolor" in res.stderr, res.output
        assert (tmp_path / folder / name).read_bytes() == before
        assert not (tmp_path / folder / "m.safetensors").exists()


def test_links_at_the_derived_names_are_replaced_never_written_through(tmp_path, cli):
    data = learnable_images(tmp_path / "data", n=8)
    args = ["train", data, "-m", "baseline", "--crop-size", "32", "--batch-size", "4", "--epochs", "1",
            "--val-fraction", "0.25", "--cache-dir", tmp_path / "cache"]  # fmt: skip
    assert cli(*args, "-o", tmp_path / "elsewhere" / "m.safetensors").exit_code == 0
    targets = {n: tmp_path / "elsewhere" / n for n in ("m.log.jsonl", "m.loss.png")}
    before = {n: p.read_bytes() for n, p in targets.items()}
    (tmp_path / "run").mkdir()
    for name, target in targets.items():
        (tmp_path / "run" / name).symlink_to(target)
    res = cli(*args, "-o", tmp_path / "run" / "m.safetensors", "--seed", "5")
    assert res.exit_code == 0, res.output
    assert {n: p.read_bytes() for n, p in targets.items()} == before
    for name in targets:
        assert not (tmp_path / "run" / name).is_symlink() and (tmp_path / "run" / name).stat().st_size > 0


def test_the_summary_without_a_validation_set_is_whole(tmp_path, cli):
    data = learnable_images(tmp_path / "data", n=8)
    res = cli("train", data, "-m", "baseline", "-o", tmp_path / "m.safetensors", "--crop-size", "32",
              "--batch-size", "4", "--epochs", "1", "--val-fraction", "0", "--cache-dir", tmp_path / "c")  # fmt: skip
    assert res.exit_code == 0, res.output
    line = res.stderr.strip().splitlines()[-1]
    assert "(no validation set; training" in line and f"); last: {tmp_path / 'm.last.safetensors'}" in line, (
        line
    )


def test_fine_tuning_the_default_keeps_how_it_is_built_decodes_and_renders(tmp_path, cli):
    """`--init-from effnet_unet` with no other option: the README's command works, and the result
    colours as the default does (its encoder blocks, hue boost and render size), not duller."""
    from bwcolor.shipped import weights_dir

    data = learnable_images(tmp_path / "data", n=8)
    out = tmp_path / "mine" / "effnet_unet.safetensors"
    res = cli("train", data, "--init-from", "effnet_unet", "-o", tmp_path / "mine", "--crop-size", "32",
              "--batch-size", "4", "--epochs", "1", "--val-fraction", "0.25", "--cache-dir", tmp_path / "c")  # fmt: skip
    assert res.exit_code == 0, res.output
    shipped = read_checkpoint(weights_dir() / "effnet_unet.safetensors")[0]["config"]
    mine = read_checkpoint(out)[0]["config"]
    for key in (
        "render_size",
        "tune_encoder_blocks",
        "head",
        "temperature",
        "hue_boost",
        "hue_power",
        "chroma_scale",
    ):
        assert mine[key] == shipped[key], key
    assert mine["render_size"] == 256 != 2 * 32
    res = cli("train", data, "--init-from", "effnet_unet", "-o", tmp_path / "r", "--crop-size", "32", "--batch-size",
              "4", "--epochs", "1", "--val-fraction", "0.25", "--cache-dir", tmp_path / "c", "--render-size", "128",
              "--decoding", "hue_boost=0.2", "--decoding", "chroma_scale=1.1")  # fmt: skip
    told = read_checkpoint(tmp_path / "r" / "effnet_unet.safetensors")[0]["config"]
    assert (
        res.exit_code == 0
        and told["render_size"] == 128
        and (told["hue_boost"], told["chroma_scale"]) == (0.2, 1.1)
    )
    assert told["hue_power"] == shipped["hue_power"]  # what was not told is still inherited
    res = cli("train", data, "--init-from", "effnet_unet", "-o", tmp_path / "s", "--crop-size", "32",
              "--decoding", "chroma_scale=5", "--cache-dir", tmp_path / "c")  # fmt: skip
    assert res.exit_code == 2 and "chroma_scale=5.0 is not between 0 and 4" in res.stderr


def test_tiny_or_gray_training_data_is_warned_about_with_numbers(tmp_path, cli):
    data = learnable_images(tmp_path / "data", n=8)
    for i in range(10):
        write(data / f"gray{i}.png", np.full((40, 40), 20 * i, np.uint8))
    res = cli("train", data, "-m", "baseline", "-o", tmp_path / "m.safetensors", "--crop-size", "32",
              "--batch-size", "4", "--epochs", "1", "--val-fraction", "0.25", "--cache-dir", tmp_path / "c", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if line.startswith("bwcolor: warning:")]
    assert any("validation photos: scores on so few" in w for w in warnings), res.stderr
    assert any("training photos: a network learns the colours of so few photos" in w for w in warnings)
    assert any("10 of the 18 photos are grayscale or near-grayscale and were skipped" in w for w in warnings)


def test_a_run_checkpointed_by_the_code_before_the_layered_move_resumes(tmp_path, cli, monkeypatch):
    """tests/data/before_layers.last.safetensors(.gz) was written by the release before the package
    moved into layers (issue 27), in a folder holding data/ (these ten pictures) by
    ``bwcolor train data -m baseline --crop-size 32 --epochs 2 --batch-size 4 --val-fraction 0.2
    -o out/baseline.safetensors --cache-dir cache``; today's code continues it."""
    for i in range(10):
        write(tmp_path / "data" / f"p{i}.png", gradient_rgb(48, 64, seed=i))
    (tmp_path / "out").mkdir()
    old = Path(__file__).parent / "data" / "before_layers.last.safetensors.gz"  # gzip -9: 1.9 MB, not 2.8
    (tmp_path / "out" / "baseline.last.safetensors").write_bytes(gzip.decompress(old.read_bytes()))
    monkeypatch.chdir(tmp_path)
    result = cli("train", "--resume", "out/baseline.last.safetensors", "--epochs", "3")
    assert result.exit_code == 0, result.output
    log = [json.loads(line) for line in (tmp_path / "out" / "baseline.log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in log][-1] == 3
    assert load_model(tmp_path / "out" / "baseline.safetensors").model_name == "baseline"
    meta = read_checkpoint(tmp_path / "out" / "baseline.safetensors")[0]["meta"]
    assert meta["train_config"]["cache_dir"] is None  # the default cache: no home folder recorded
    assert meta["train_config"]["data"] == ["data"]
