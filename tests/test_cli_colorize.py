"""End-to-end behaviour of `bwcolor colorize`, through the real CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bwcolor import lab
from bwcolor.files.decode import read_image
from tests.conftest import deny_reading_as_root, gradient_rgb, gray_of, tree_hashes, write


def gray_tree(root: Path) -> Path:
    write(root / "a.jpg", gray_of(gradient_rgb(48, 64, 1)))
    write(root / "sub" / "b.PNG", gray_of(gradient_rgb(33, 71, 2)))
    write(root / "sub" / "deeper" / "c.tif", gray_of(gradient_rgb(64, 40, 3)))
    (root / "notes.txt").write_text("not an image, ignored in folders")
    return root


def test_folder_is_colorized_and_mirrored(tmp_path, cli, baseline_ckpt):
    src = gray_tree(tmp_path / "in")
    before = tree_hashes(src)
    res = cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (3, 0, 0)
    for rel in ["a.jpg", "sub/b.PNG", "sub/deeper/c.tif"]:
        out = read_image(tmp_path / "out" / rel)
        inp = read_image(src / rel)
        assert out.pixels.shape == (*inp.pixels.shape, 3)
        chroma = lab.mean_chroma(out.pixels / 255.0)
        assert chroma > 3, f"{rel} was not coloured (mean chroma {chroma:.1f})"
    assert tree_hashes(src) == before  # inputs untouched


def test_output_lightness_equals_input_lightness(tmp_path, cli, baseline_ckpt):
    gray = gray_of(gradient_rgb(61, 83, 4))
    write(tmp_path / "g.png", gray)
    res = cli("colorize", tmp_path / "g.png", "-o", tmp_path / "out", "-m", baseline_ckpt)
    assert res.exit_code == 0, res.output
    out = read_image(tmp_path / "out" / "g.png").pixels
    l_in = lab.lightness_of_gray(gray)
    l_out = lab.rgb_to_lab(out / 255.0)[..., 0]
    assert np.abs(l_out - l_in).mean() < 0.3
    assert np.abs(l_out - l_in).max() < 1.5


@pytest.mark.parametrize("hw", [(37, 1000), (1000, 37), (1, 1), (17, 23), (257, 255)])
def test_output_size_equals_input_size(tmp_path, cli, baseline_ckpt, hw):
    write(tmp_path / "in" / "x.png", gray_of(gradient_rgb(*hw)))
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt, "-q")
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "out" / "x.png").pixels.shape == (*hw, 3)


def test_fusion_model_runs_end_to_end(tmp_path, cli, fusion_ckpt):
    write(tmp_path / "x.jpg", gray_of(gradient_rgb(50, 90)))
    res = cli("colorize", tmp_path / "x.jpg", "-o", tmp_path / "out", "-m", fusion_ckpt, "-q")
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "out" / "x.jpg").pixels.shape == (50, 90, 3)


def test_depth_alpha_and_orientation_are_kept(tmp_path, cli, baseline_ckpt):
    g16 = gray_of(gradient_rgb(20, 30)).astype(np.uint16) * 257
    write(tmp_path / "in" / "deep.tif", g16)
    rgba = np.dstack([gradient_rgb(20, 30), np.linspace(0, 255, 600).reshape(20, 30).astype(np.uint8)])
    write(tmp_path / "in" / "alpha.png", rgba)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise for display
    Image.fromarray(gray_of(gradient_rgb(20, 30))).save(tmp_path / "in" / "rot.jpg", exif=exif)
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["colour_inputs"] == 1  # the RGBA one had colour
    assert json.loads(res.stdout)["colour_files"] == [str(tmp_path / "in" / "alpha.png")]
    shown = cli("colorize", tmp_path / "in", "-o", tmp_path / "out2", "-m", baseline_ckpt)
    assert (
        f"1 input(s) were already colour or toned (e.g. sepia): {tmp_path / 'in' / 'alpha.png'}; "
        in shown.stderr
    )
    deep = read_image(tmp_path / "out" / "deep.tif").pixels
    assert deep.dtype == np.uint16 and deep.shape == (20, 30, 3)
    alpha = read_image(tmp_path / "out" / "alpha.png")
    assert np.array_equal(alpha.alpha, rgba[..., 3])
    assert read_image(tmp_path / "out" / "rot.jpg").pixels.shape == (30, 20, 3)


def test_bad_inputs_get_one_line_each_and_the_run_goes_on(tmp_path, cli, baseline_ckpt, monkeypatch):
    src = tmp_path / "in"
    write(src / "good.jpg", gray_of(gradient_rgb(40, 40)))
    (src / "empty.jpg").write_bytes(b"")
    full = write(tmp_path / "full.jpg", gray_of(gradient_rgb(200, 200))).read_bytes()
    (src / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (src / "text.jpg").write_text("just text")
    write(src / "huge.png", np.zeros((120, 120), np.uint8))
    locked = write(src / "locked.png", np.zeros((10, 10), np.uint8))
    (tmp_path / "nothing").mkdir()
    before = tree_hashes(src)
    os.chmod(locked, 0)
    deny_reading_as_root(monkeypatch, "locked.png")
    res = cli(
        "colorize", src, tmp_path / "nothing", tmp_path / "missing.jpg",
        "-o", tmp_path / "out", "-m", baseline_ckpt, "--max-pixels", "10000",
    )  # fmt: skip
    os.chmod(locked, 0o644)
    assert res.exit_code == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("bwcolor: error:")]
    expected = {
        "empty.jpg": "empty file",
        "truncated.jpg": "truncated",
        "text.jpg": "not a supported image",
        "huge.png": "exceeds the limit",
        "locked.png": "permission denied",
        "nothing": "no images or videos found",
        "missing.jpg": "no such file",
    }
    assert len(lines) == len(expected), res.stderr
    for name, cause in expected.items():
        assert any(name in ln and cause in ln for ln in lines), (name, res.stderr)
    assert "Traceback" not in res.output
    assert (tmp_path / "out" / "good.jpg").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.jpg"]
    assert tree_hashes(src) == before


def test_second_run_skips_and_overwrite_redoes(tmp_path, cli, baseline_ckpt):
    src = gray_tree(tmp_path / "in")
    args = ["colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt, "--json"]
    assert json.loads(cli(*args).stdout)["done"] == 3
    (tmp_path / "out" / "a.jpg").unlink()  # as if interrupted before this one
    second = json.loads(cli(*args).stdout)
    assert (second["done"], second["skipped"]) == (1, 2)
    third = json.loads(cli(*args, "--overwrite").stdout)
    assert (third["done"], third["skipped"]) == (3, 0)
    assert not list((tmp_path / "out").rglob("*.bwcolor-tmp"))


def test_quoted_globs_and_case_insensitive_extensions(tmp_path, cli, baseline_ckpt):
    src = gray_tree(tmp_path / "in")
    write(src / "UPPER.JPEG", gray_of(gradient_rgb(20, 20)))
    res = cli("colorize", f"{src}/**/*.*", "-o", tmp_path / "out", "-m", baseline_ckpt, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["done"] == 4
    assert (tmp_path / "out" / "sub" / "deeper" / "c.tif").exists()
    res = cli("colorize", f"{src}/*.zzz", "-o", tmp_path / "out2", "-m", baseline_ckpt)
    assert res.exit_code == 1 and "no files match" in res.stderr
    write(src / "London1900.JPG", gray_of(gradient_rgb(20, 20)))  # a glob's extension, in any case
    res = cli("colorize", f"{src}/**/*.jpg", "-o", tmp_path / "out3", "-m", baseline_ckpt, "--json")
    assert res.exit_code == 0 and (tmp_path / "out3" / "London1900.JPG").exists(), res.output


def test_a_glob_that_climbs_out_of_its_base_still_writes_into_the_output_folder(tmp_path, cli, baseline_ckpt):
    write(tmp_path / "in" / "a" / "x.png", gray_of(gradient_rgb(20, 20)))
    write(tmp_path / "top.png", gray_of(gradient_rgb(20, 20, 1)))
    before = tree_hashes(tmp_path)
    for pattern in (f"{tmp_path}/in/*/../../*.png", f"{tmp_path}/in/*/.."):
        res = cli("colorize", pattern, "-o", tmp_path / "out", "-m", baseline_ckpt, "--overwrite")
        assert res.exit_code == 0, res.output
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == [
        "a/x.png", "top.png",
    ]  # fmt: skip
    assert {k: v for k, v in tree_hashes(tmp_path).items() if not k.startswith("out")} == before


def test_format_conversion_and_name_collisions(tmp_path, cli, baseline_ckpt):
    write(tmp_path / "in" / "a.jpg", gray_of(gradient_rgb(20, 20)))
    write(tmp_path / "in" / "a.png", gray_of(gradient_rgb(20, 20, 5)))
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt, "--format", "png")
    assert res.exit_code == 1
    assert "same output name" in res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


def test_refuses_to_overwrite_inputs(tmp_path, cli, baseline_ckpt):
    src = gray_tree(tmp_path / "in")
    before = tree_hashes(src)
    res = cli("colorize", src, "-o", src, "-m", baseline_ckpt, "--overwrite")
    assert res.exit_code == 2 and "would overwrite an input" in res.stderr
    assert tree_hashes(src) == before


def test_output_inside_input_folder_is_not_read_back(tmp_path, cli, baseline_ckpt):
    src = gray_tree(tmp_path / "in")
    args = ["colorize", src, "-o", src / "colorized", "-m", baseline_ckpt, "--json"]
    assert json.loads(cli(*args).stdout)["done"] == 3
    again = json.loads(cli(*args).stdout)
    assert (again["done"], again["skipped"]) == (0, 3)


def test_usage_errors_exit_2(tmp_path, cli, monkeypatch):
    write(tmp_path / "x.png", np.zeros((8, 8), np.uint8))
    monkeypatch.setenv("BWCOLOR_WEIGHTS_DIR", str(tmp_path / "none"))
    res = cli("colorize", tmp_path / "x.png", "-o", tmp_path / "o", "-m", "baseline")
    assert res.exit_code == 2 and "no trained weights" in res.stderr
    res = cli("colorize", tmp_path / "x.png", "-o", tmp_path / "o", "-m", tmp_path / "nope.safetensors")
    assert res.exit_code == 2 and "not found" in res.stderr
    res = cli("colorize", tmp_path / "x.png", "--format", "gif")
    assert res.exit_code == 2 and "unknown output format" in res.stderr
    res = cli("colorize", tmp_path / "x.png", "--batch-size", "0")
    assert res.exit_code == 2
    res = cli("colorize", tmp_path / "x.png", "--render-size", "100")
    assert res.exit_code == 2 and "multiple of 8" in res.output
    if not torch.cuda.is_available():
        res = cli("colorize", tmp_path / "x.png", "-o", tmp_path / "o", "-m", "gray", "--device", "cuda")
        assert res.exit_code == 2 and "no CUDA GPU" in res.stderr
    for command in ("train", "evaluate", "benchmark"):
        assert cli(command).exit_code == 2


def test_module_entry_point_and_version():
    out = subprocess.run([sys.executable, "-m", "bwcolor", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("bwcolor ")


def test_saturation_scales_the_predicted_colour(tmp_path, cli, baseline_ckpt):
    write(tmp_path / "g.png", gray_of(gradient_rgb(40, 60, 7)))
    chroma = {}
    for s in ("0", "1", "2"):
        res = cli(
            "colorize", tmp_path / "g.png", "-o", tmp_path / s, "-m", baseline_ckpt, "--saturation", s, "-q"
        )
        assert res.exit_code == 0, res.output
        chroma[s] = lab.mean_chroma(read_image(tmp_path / s / "g.png").pixels / 255.0)
    assert chroma["0"] < 0.5 < chroma["1"] < chroma["2"]


def test_many_shapes_with_large_batches_do_not_pile_up(tmp_path, cli, baseline_ckpt, monkeypatch):
    """Images of many shapes never fill a batch; they must not all be held until the end."""
    from bwcolor.pipeline import photos

    decoded, first_infer_after = [], []
    real_decode, real_infer = photos._decode, photos.core.predict_ab

    def decode(*args):
        decoded.append(1)
        return real_decode(*args)

    def infer(m, x, hints=None):
        first_infer_after.append(len(decoded))
        return real_infer(m, x, hints)

    monkeypatch.setattr(photos, "_decode", decode)
    monkeypatch.setattr(photos.core, "predict_ab", infer)
    for i in range(30):  # 30 heights: about 30 different render shapes at render size 256
        write(tmp_path / "in" / f"{i:02d}.png", gray_of(gradient_rgb(20 + 12 * i, 400, seed=i)))
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt, "--batch-size", "8",
              "--workers", "1", "--render-size", "256", "--json")  # fmt: skip
    assert json.loads(res.stdout)["done"] == 30
    assert first_infer_after[0] < 30  # inference started before every image was decoded


def test_merging_in_bands_gives_the_same_image(monkeypatch, baseline_ckpt):
    from bwcolor import load_model
    from bwcolor.files.pixels import Picture
    from bwcolor.image import colorize as core

    model = load_model(baseline_ckpt)
    gray16 = gray_of(gradient_rgb(301, 157)).astype(np.uint16) * 257
    whole = core.colorize_image(model, gray16)
    monkeypatch.setattr(core, "BAND_ROWS", 7)  # 43 bands, the last one short
    assert np.array_equal(core.colorize_image(model, gray16), whole)
    ab = np.full((8, 8, 2), 20.0, np.float32)
    assert core.colorized_pixels(Picture(gray16), ab, dtype=np.float32).dtype == np.float32


def test_effnet_unet_colorizes_extreme_shapes(tmp_path, cli):
    import torch

    from bwcolor import create_model, save_checkpoint

    torch.manual_seed(0)
    ckpt = save_checkpoint(create_model("effnet_unet", render_size=64), tmp_path / "u.safetensors")
    write(tmp_path / "in" / "pano.png", gray_of(gradient_rgb(37, 1000)))
    write(tmp_path / "in" / "tiny.png", gray_of(gradient_rgb(3, 2)))
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", ckpt, "-q")
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "out" / "pano.png").pixels.shape == (37, 1000, 3)
    assert read_image(tmp_path / "out" / "tiny.png").pixels.shape == (3, 2, 3)


def test_a_folder_named_like_a_model_does_not_hide_the_shipped_weights(
    tmp_path, cli, baseline_ckpt, monkeypatch
):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "baseline.safetensors").write_bytes(baseline_ckpt.read_bytes())
    monkeypatch.setenv("BWCOLOR_WEIGHTS_DIR", str(weights))
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.png", gray_of(gradient_rgb(24, 40)))
    first = cli("colorize", "a.png", "-o", "baseline", "-m", "baseline")
    assert first.exit_code == 0 and (tmp_path / "baseline" / "a.png").exists()
    again = cli("colorize", "a.png", "-o", "out2", "-m", "baseline")  # a folder ./baseline now exists
    assert again.exit_code == 0, again.output
    res = cli("colorize", "a.png", "-o", "out3", "-m", "effnet-unet")
    assert (
        res.exit_code == 2 and "unknown model 'effnet-unet': use one of baseline, effnet_unet" in res.stderr
    )
    assert not (tmp_path / "out3").exists()


def test_a_glob_rerun_resumes_instead_of_matching_its_own_outputs(tmp_path, cli, baseline_ckpt):
    for i in range(2):
        write(tmp_path / "g" / "sub" / f"p{i}.png", gray_of(gradient_rgb(24, 40, seed=i)))
    pattern = str(tmp_path / "g" / "**" / "*.png")
    first = cli("colorize", pattern, "-o", tmp_path / "g" / "out", "-m", baseline_ckpt, "--json", "-q")
    assert first.exit_code == 0 and json.loads(first.stdout)["done"] == 2
    again = cli("colorize", pattern, "-o", tmp_path / "g" / "out", "-m", baseline_ckpt, "--json", "-q")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["skipped"] == 2


def test_outputs_made_by_another_model_are_reported_not_silently_skipped(
    tmp_path, cli, baseline_ckpt, fusion_ckpt
):
    from PIL import Image

    write(tmp_path / "in" / "a.jpg", gray_of(gradient_rgb(24, 40)))
    write(tmp_path / "in" / "b.tif", gray_of(gradient_rgb(24, 40, seed=2)))
    args = ("colorize", tmp_path / "in", "-o", tmp_path / "out")
    assert cli(*args, "-m", baseline_ckpt, "-q").exit_code == 0
    same = cli(*args, "-m", baseline_ckpt, "--json", "-q")
    assert json.loads(same.stdout)["skipped_other_model"] == 0
    other = cli(*args, "-m", fusion_ckpt)
    assert other.exit_code == 0
    assert "2 skipped (output exists; 2 made by another model: --overwrite redoes them)" in other.stderr
    assert "bwcolor: note:" not in other.stderr  # one line for them all, not a note per file
    named = cli(*args, "-m", fusion_ckpt, "--verbose")
    assert named.stderr.count("bwcolor: note:") == 2 and "made by another model" in named.stderr  # each named
    assert "Output:" not in other.stderr  # nothing was written there
    redone = cli(*args, "-m", fusion_ckpt, "--overwrite", "--json", "-q")
    assert json.loads(redone.stdout)["done"] == 2
    with Image.open(tmp_path / "out" / "a.jpg") as im:
        assert "fusion" in im.getexif()[0x0131]


def test_an_output_file_name_for_one_input_and_a_suffix_beside_each(tmp_path, cli, baseline_ckpt):
    write(tmp_path / "in" / "paperboy.jpg", gray_of(gradient_rgb(24, 40)))
    write(tmp_path / "in" / "sub" / "b.png", gray_of(gradient_rgb(24, 40, seed=2)))
    before = tree_hashes(tmp_path / "in")
    one = (
        "colorize",
        tmp_path / "in" / "paperboy.jpg",
        "-o",
        tmp_path / "paperboy_colour.png",
        "-m",
        baseline_ckpt,
    )
    res = cli(*one)
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "paperboy_colour.png").pixels.ndim == 3
    with open(tmp_path / "paperboy_colour.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"  # the extension sets the format
    again = cli(*one)
    assert again.exit_code == 0 and "1 skipped (output exists" in again.stderr  # an existing file: a rerun
    many = cli("colorize", tmp_path / "in", "-o", tmp_path / "x.jpg", "-m", baseline_ckpt)
    assert many.exit_code == 2 and "is a file name, for one input; 2 inputs were found" in many.stderr
    both = cli("colorize", tmp_path / "in", "-o", tmp_path / "o", "--suffix", "_c", "-m", baseline_ckpt)
    assert both.exit_code == 2 and "give it or --output, not both" in both.stderr
    beside = cli("colorize", tmp_path / "in", "--suffix", "_colour", "-m", baseline_ckpt, "--json")
    assert beside.exit_code == 0 and json.loads(beside.stdout)["done"] == 2, beside.output
    assert (tmp_path / "in" / "paperboy_colour.jpg").exists() and (
        tmp_path / "in" / "sub" / "b_colour.png"
    ).exists()
    rerun = cli("colorize", tmp_path / "in", "--suffix", "_colour", "-m", baseline_ckpt, "--json")
    assert json.loads(rerun.stdout)["skipped"] == 2  # a rerun: its outputs are not taken as inputs
    assert {k: v for k, v in tree_hashes(tmp_path / "in").items() if k in before} == before


def test_bwcolor_outputs_among_the_inputs_are_skipped_unless_asked(
    tmp_path, cli, baseline_ckpt, fusion_ckpt, monkeypatch
):
    write(tmp_path / "a.jpg", gray_of(gradient_rgb(24, 40)))
    write(tmp_path / "t.tif", gray_of(gradient_rgb(24, 40, seed=3)))
    monkeypatch.chdir(tmp_path)
    assert cli("colorize", ".", "-m", baseline_ckpt, "-q").exit_code == 0  # into ./colorized
    res = cli("colorize", ".", "-m", fusion_ckpt, "-o", tmp_path / "fus", "--json")
    summary = json.loads(res.stdout)
    assert (summary["done"], summary["skipped_colorized"]) == (2, 2), res.output
    assert "bwcolor: note:" not in res.stderr
    res = cli("colorize", tmp_path / "colorized", "-m", fusion_ckpt, "-o", tmp_path / "again")
    assert "2 already colorized by bwcolor: --include-colorized takes them" in res.stderr
    res = cli("colorize", tmp_path / "colorized", "-m", fusion_ckpt, "-o", tmp_path / "again", "--include-colorized",
              "--json")  # fmt: skip
    assert json.loads(res.stdout)["done"] == 2


def test_a_dry_run_lists_what_would_be_written_and_writes_nothing(tmp_path, cli, baseline_ckpt, monkeypatch):
    src = gray_tree(tmp_path / "in")
    cli("colorize", src / "a.jpg", "-o", tmp_path / "out", "-m", baseline_ckpt, "-q")  # one done already
    monkeypatch.setattr(
        "bwcolor.models.checkpoint.load_model", lambda *a, **k: pytest.fail("the model was loaded")
    )
    before = tree_hashes(tmp_path)
    res = cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt, "--dry-run")
    assert res.exit_code == 0, res.output
    assert f"would colorize: {src / 'sub' / 'b.PNG'} -> {tmp_path / 'out' / 'sub' / 'b.PNG'}" in res.stderr
    assert "Dry run: 2 would be colorized, 1 skipped" in res.stderr
    assert tree_hashes(tmp_path) == before
    as_json = json.loads(
        cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt, "--dry-run", "--json").stdout
    )
    assert (as_json["planned"], as_json["skipped"], as_json["done"]) == (2, 1, 0)


def test_compare_writes_the_input_and_the_output_side_by_side(tmp_path, cli, baseline_ckpt):
    write(tmp_path / "in" / "a.png", gray_of(gradient_rgb(30, 40)))
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt, "--compare")
    assert res.exit_code == 0, res.output
    pair = read_image(tmp_path / "out" / "a.compare.jpg").pixels
    output = read_image(tmp_path / "out" / "a.png").pixels
    assert pair.shape == (30, 2 * 40 + 8, 3)
    left, right = pair[:, :40].astype(int), pair[:, 48:].astype(int)
    assert np.abs(left[..., 0] - left[..., 2]).max() <= 6  # the input: gray
    assert np.abs(right - output).mean() < 4  # the output, as a JPEG
    again = cli("colorize", tmp_path / "out", "-o", tmp_path / "again", "-m", baseline_ckpt, "--json")
    assert json.loads(again.stdout)["skipped_colorized"] == 2  # neither is taken as an input


def test_colour_inputs_can_be_skipped_and_are_counted(tmp_path, cli, baseline_ckpt):
    write(tmp_path / "in" / "gray.png", gray_of(gradient_rgb(30, 40)))
    write(tmp_path / "in" / "colour.png", gradient_rgb(30, 40, seed=4))
    res = cli(
        "colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt, "--colour-inputs", "skip"
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gray.png"]
    assert "1 already colour or toned: --colour-inputs colorize takes them" in res.stderr
    bad = cli(
        "colorize", tmp_path / "in", "-o", tmp_path / "o2", "-m", baseline_ckpt, "--colour-inputs", "drop"
    )
    assert bad.exit_code == 2 and "--colour-inputs must be colorize or skip" in bad.stderr


def test_the_readme_option_table_matches_the_commands():
    import re
    from pathlib import Path

    import typer

    from bwcolor.cli import app

    commands = ["colorize", "train", "evaluate", "benchmark"]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Options at a glance", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for line in section.splitlines():
        found = re.match(r"\| `(--[a-z-]+)`[^|]* \|(.*)\|\s*$", line)
        if found:
            marks = [c.strip() for c in found.group(2).split("|")]
            documented[found.group(1)] = {c for c, m in zip(commands, marks, strict=True) if m}
    actual = {}
    group = typer.main.get_command(app)
    for name in commands:
        for p in group.commands[name].params:
            if p.param_type_name == "option" and p.name != "help":
                actual.setdefault(next(o for o in p.opts if o.startswith("--")), set()).add(name)
    assert documented == actual


def test_help_reads_as_prose_in_panels_and_suggests_only_close_options(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    for args in (["--help"], ["colorize", "--help"], ["train", "--help"], ["models", "--help"]):
        res = cli(*args)
        assert res.exit_code == 0 and "<bool>" not in res.output, args
    helped = cli("colorize", "--help").output
    assert "Speed and hardware" in helped and "Clusters" in helped
    assert helped.index("--scheduler") > helped.index("Clusters") > helped.index("--batch-size")
    assert "Possible options" not in cli("colorize", "--nope").output
    assert "Possible options: --overwrite" in cli("colorize", "--overwrit").output


def test_every_command_help_is_reflowed_paragraphs():
    """A docstring's line ends are not the terminal's: each paragraph is one line to wrap."""
    import typer

    from bwcolor.cli import app

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        paragraphs = (command.help or "").split("\n\n")
        assert all(p and "\n" not in p for p in paragraphs), name
