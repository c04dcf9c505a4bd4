import json
import os
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from bwcolor import colorize_image, create_model, load_model, save_checkpoint
from bwcolor.errors import ModelError
from bwcolor.models.checkpoint import read_checkpoint


@pytest.mark.parametrize("name", ["baseline", "fusion"])
def test_round_trip_gives_the_same_model(tmp_path, name):
    torch.manual_seed(1)
    model = create_model(name, render_size=32).eval()
    path = save_checkpoint(model, tmp_path / "m.safetensors", meta={"epochs": 3})
    loaded = load_model(path)
    x = torch.rand(1, 1, 32, 48) * 2 - 1
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    with torch.no_grad():  # loaded models run channels_last: same maths, other summation order
        assert torch.allclose(model(x), loaded(x), atol=1e-5)
    assert loaded.config == model.config
    assert loaded.checkpoint["meta"] == {"epochs": 3}
    header, tensors = read_checkpoint(path)
    assert header["model"] == name
    assert not any(k.startswith("backbone.") for k in tensors)  # the backbone comes from its package


def test_pickled_checkpoint_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save(create_model("baseline").state_dict(), path)
    with pytest.raises(ModelError, match="pickle"):
        load_model(path)

    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self):  # unpickling this would create the marker folder
            return (os.mkdir, (str(marker),))

    for name in ("raw.safetensors", "raw.pt"):
        (tmp_path / name).write_bytes(pickle.dumps(Boom()))
        with pytest.raises(ModelError, match="pickle"):
            load_model(tmp_path / name)
        torch.save({"w": Boom()}, tmp_path / f"zip-{name}")  # torch's zip format, pickle inside
        with pytest.raises(ModelError, match="pickle"):
            load_model(tmp_path / f"zip-{name}")
    assert not marker.exists()  # nothing was unpickled


def test_the_cli_refuses_a_pickle_in_one_line(tmp_path, cli):
    (tmp_path / "x.jpg").write_bytes(b"")
    (tmp_path / "m.pt").write_bytes(pickle.dumps({"w": 1}))
    res = cli("colorize", tmp_path / "x.jpg", "-m", tmp_path / "m.pt", "-o", tmp_path / "out")
    assert res.exit_code == 2 and "pickle" in res.stderr and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1


def test_truncated_and_foreign_files_are_refused(tmp_path, baseline_ckpt):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(baseline_ckpt.read_bytes()[:5000])
    with pytest.raises(ModelError, match="not a valid checkpoint or truncated"):
        load_model(cut)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(ModelError, match="not a bwcolor checkpoint"):
        load_model(foreign)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.safetensors")


def test_weights_that_do_not_match_the_config_are_refused(tmp_path):
    model = create_model("baseline")
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    header, tensors = read_checkpoint(path)
    tensors["layers.0.weight"] = torch.zeros(16, 1, 3, 3)
    bad = tmp_path / "bad.safetensors"
    import json

    save_file(
        tensors,
        bad,
        metadata={**{k: json.dumps(v) for k, v in header.items()}, "bwcolor": "1", "model": "baseline"},
    )
    with pytest.raises(ModelError, match="do not match"):
        load_model(bad)


def test_model_name_without_shipped_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BWCOLOR_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="no trained weights for model 'baseline'"):
        load_model("baseline")


def test_model_name_loads_shipped_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("BWCOLOR_WEIGHTS_DIR", str(tmp_path))
    save_checkpoint(create_model("baseline", render_size=48), tmp_path / "baseline.safetensors")
    assert load_model("baseline").config.render_size == 48


def test_python_api_colorizes_arrays(baseline_ckpt):
    model = load_model(baseline_ckpt)
    gray = np.random.default_rng(0).integers(0, 256, (37, 53), dtype=np.uint8)
    out = colorize_image(model, gray)
    assert out.shape == (37, 53, 3) and out.dtype == np.uint8
    rgba = np.dstack([np.repeat(gray[..., None], 3, -1), np.full_like(gray, 7)])
    out = colorize_image(model, rgba.astype(np.uint16) * 257)
    assert out.shape == (37, 53, 4) and out.dtype == np.uint16 and (out[..., 3] == 7 * 257).all()
    out = colorize_image(model, gray / 255.0)
    assert out.dtype.kind == "f" and out.shape == (37, 53, 3)


def test_public_api_names():
    import bwcolor
    from bwcolor.training.trainer import train

    assert bwcolor.train is train
    assert {"baseline", "fusion", "gray"} <= set(bwcolor.list_models())
    public = {"colorize_image", "colorize_paths", "colorize_video", "load_model", "save_checkpoint",
              "create_model", "list_models", "train", "TrainConfig"}  # fmt: skip
    assert public <= set(dir(bwcolor)) and all(callable(getattr(bwcolor, n)) for n in public)


def test_a_checkpoint_whose_header_length_starts_with_0x80_loads(tmp_path):
    """safetensors files start with their header length; 0x80 there is not a pickle."""
    model = create_model("baseline")
    for pad in range(300):
        path = save_checkpoint(model, tmp_path / "m.safetensors", meta={"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert load_model(path).config == model.config


def test_models_lists_the_shipped_ones_and_info_reads_a_header(tmp_path, cli, baseline_ckpt):
    import json

    res = cli("models", "--json")
    assert res.exit_code == 0, res.output
    listed = {m["name"]: m for m in json.loads(res.stdout)}
    assert set(listed) == {"baseline", "fusion", "effnet_unet"} and listed["effnet_unet"]["default"]
    assert listed["baseline"]["stored_parameters"] == 231_682  # the paper's count
    res = cli("info", baseline_ckpt, "--json")
    assert res.exit_code == 0, res.output
    found = json.loads(res.stdout)
    assert (found["model"], found["file"], found["render_size"]) == ("baseline", str(baseline_ckpt), 64)
    assert cli("info", "baseline").exit_code == 0
    (tmp_path / "x.safetensors").write_bytes(b"not a checkpoint")
    res = cli("info", tmp_path / "x.safetensors")
    assert res.exit_code == 2 and "x.safetensors: not a bwcolor checkpoint" in res.stderr


def test_info_writes_a_copy_with_other_decoding_settings(tmp_path, cli):
    """`bwcolor info MODEL --decoding KEY=VALUE -o NEW`: a copy that decodes as told (and colours
    differently), the model it came from untouched; bad settings are one line, exit 2."""
    from bwcolor.shipped import weights_dir
    from tests.conftest import gradient_rgb, gray_of, tree_hashes

    before = tree_hashes(weights_dir())
    new = tmp_path / "vivid.safetensors"
    res = cli("info", "effnet_unet", "--decoding", "chroma_scale=1.5", "--decoding", "hue-boost=0", "-o", new,
              "--note", "chosen by eye", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["decoding"]["chroma_scale"] == 1.5
    meta = read_checkpoint(new)[0]["meta"]
    assert meta["decoding"]["note"] == "chosen by eye" and "train_state" not in meta
    assert tree_hashes(weights_dir()) == before
    gray = gray_of(gradient_rgb(48, 64, 2))
    shipped, vivid = (colorize_image(load_model(m), gray).astype(int) for m in ("effnet_unet", new))
    assert np.abs(shipped - vivid).max() > 3
    for args, cause in (
        (["--decoding", "chroma_scale=1.5"], "name it with -o"),
        (["--decoding", "tint=2", "-o", tmp_path / "a.safetensors"], "give KEY=VALUE"),
        (["--decoding", "chroma_scale=x", "-o", tmp_path / "a.safetensors"], "'x' is not a number"),
        (
            ["--decoding", "hue_power=0", "-o", tmp_path / "a.safetensors"],
            "hue_power=0.0 is not between 0 and 16",
        ),
        (["-o", tmp_path / "a.safetensors"], "give them with --decoding"),
    ):
        res = cli("info", "effnet_unet", *args)
        assert res.exit_code == 2 and cause in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
    assert not (tmp_path / "a.safetensors").exists()
    res = cli("info", new, "--decoding", "chroma_scale=1", "-o", new)
    assert res.exit_code == 2 and "is the checkpoint itself" in res.stderr
