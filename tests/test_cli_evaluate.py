import csv
import json

import cv2
import numpy as np
import pytest

from bwcolor import metrics
from tests.conftest import gradient_rgb, gray_of, write


def colour_set(folder, n=3):
    for i in range(n):
        write(folder / f"c{i}.png", gradient_rgb(40 + 8 * i, 56, seed=i))
    return folder


def test_gray_psnr_equals_a_direct_computation(tmp_path, cli):
    data = colour_set(tmp_path / "gt")
    res = cli("evaluate", data, "-m", "gray", "--json", "--csv", tmp_path / "rows.csv")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["protocol"] == "full resolution"
    direct = []
    for p in sorted(data.iterdir()):
        truth = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        lab = cv2.cvtColor(truth.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
        lab[..., 1:] = 0
        gray = np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0, 1)
        direct.append(metrics.psnr((gray * 255 + 0.5).astype(np.uint8), truth))
    assert summary["means"]["gray"]["psnr"] == pytest.approx(np.mean(direct), abs=1e-9)
    rows = list(csv.DictReader(open(tmp_path / "rows.csv")))
    assert len(rows) == 3 and {r["model"] for r in rows} == {"gray"}


def test_models_are_compared_beside_gray_with_square_protocol(tmp_path, cli, baseline_ckpt):
    data = colour_set(tmp_path / "gt")
    res = cli("evaluate", data, "-m", baseline_ckpt, "--square-size", "32", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["protocol"].startswith("square 32x32")
    assert list(summary["means"]) == ["gray", f"{baseline_ckpt.parent.name}/baseline"]  # not the shipped one
    assert summary["means"]["gray"]["colourfulness"] < 1.0
    table = cli("evaluate", data, "-m", baseline_ckpt)
    assert "gray" in table.stdout and "PSNR" in table.stdout and "full resolution" in table.stdout


def test_two_checkpoints_of_one_name_are_two_rows(tmp_path, cli, baseline_ckpt):
    """Checkpoints from two runs both called baseline.safetensors are told apart by their folder,
    not merged into one row."""
    data = colour_set(tmp_path / "gt", n=1)
    for run in ("run_a", "run_b"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "baseline.safetensors").write_bytes(baseline_ckpt.read_bytes())
    a, b = tmp_path / "run_a" / "baseline.safetensors", tmp_path / "run_b" / "baseline.safetensors"
    res = cli("evaluate", data, "-m", a, "-m", b, "-m", a, "--json")
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout)["means"]) == ["gray", "run_a/baseline", "run_b/baseline"]


def test_grayscale_folder_is_a_clear_error(tmp_path, cli):
    write(tmp_path / "g" / "a.png", gray_of(gradient_rgb(20, 20)))
    res = cli("evaluate", tmp_path / "g", "-m", "gray")
    assert res.exit_code == 2 and "no colour ground-truth" in res.stderr


def test_a_gray_photo_among_colour_ones_is_a_note_not_an_error(tmp_path, cli):
    write(tmp_path / "m" / "a.png", gradient_rgb(20, 20))
    write(tmp_path / "m" / "g.png", gray_of(gradient_rgb(20, 20)))
    (tmp_path / "m" / "broken.png").write_bytes(b"not a png")
    res = cli("evaluate", tmp_path / "m", "-m", "gray")
    assert res.exit_code == 0, res.output
    assert (
        "bwcolor: note: " in res.stderr and "g.png: skipped: grayscale: no colour ground truth" in res.stderr
    )
    assert "bwcolor: error: " in res.stderr and "broken.png: skipped" in res.stderr  # unreadable: an error
    assert "error" not in [line for line in res.stderr.splitlines() if "g.png" in line][0]


def test_the_table_fits_80_columns_with_names_whole(tmp_path, cli, baseline_ckpt, monkeypatch):
    from tests.conftest import gradient_rgb, write

    write(tmp_path / "t" / "a.png", gradient_rgb(32, 48))
    long_name = tmp_path / "effnet_unet_long_name.safetensors"
    long_name.write_bytes(baseline_ckpt.read_bytes())
    monkeypatch.setenv("COLUMNS", "80")
    res = cli("evaluate", tmp_path / "t", "-m", long_name)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    assert any("effnet_unet_long_name" in ln for ln in lines) and "…" not in res.stdout


def test_an_unknown_model_is_refused_before_any_photo_is_read(tmp_path, cli, monkeypatch):
    from bwcolor.training import dataset
    from tests.conftest import gradient_rgb, write

    write(tmp_path / "t" / "a.png", gradient_rgb(32, 48))
    monkeypatch.setattr(dataset, "content_hash", lambda p: pytest.fail("a photo was read"))
    for command in ("evaluate", "benchmark"):
        res = cli(command, tmp_path / "t", "-m", "effnet-unet", "--val-fraction", "0.5")
        assert res.exit_code == 2 and "unknown model 'effnet-unet'" in res.stderr


def test_a_checkpoint_is_never_labelled_like_a_shipped_model(tmp_path, cli, baseline_ckpt):
    write(tmp_path / "t" / "a.png", gradient_rgb(32, 48))
    mine = tmp_path / "mine" / "baseline.safetensors"
    mine.parent.mkdir()
    mine.write_bytes(baseline_ckpt.read_bytes())
    res = cli("evaluate", tmp_path / "t", "-m", mine, "--json")
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout)["means"]) == ["gray", "mine/baseline"]
