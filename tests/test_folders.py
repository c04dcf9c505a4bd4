"""The library call behind `bwcolor colorize`: the same outputs, skips and summary from Python."""

import numpy as np
import pytest

import bwcolor
from bwcolor.errors import ModelError, UsageError
from tests.conftest import gradient_rgb, gray_of, tree_hashes, write


def test_colorize_paths_does_what_the_command_does(tmp_path, cli, baseline_ckpt):
    for i in range(3):
        write(tmp_path / "in" / "sub" / f"p{i}.png", gray_of(gradient_rgb(24, 40, seed=i)))
    (tmp_path / "in" / "broken.jpg").write_bytes(b"no")
    seen, starts = [], []
    summary = bwcolor.colorize_paths(
        [tmp_path / "in"], tmp_path / "lib", model=str(baseline_ckpt),
        on_start=lambda n, s: starts.append(n), on_result=seen.append,
    )  # fmt: skip
    assert (summary.done, summary.failed, summary.skipped) == (3, 1, 0) and starts == [4]
    assert sorted(r.status for r in seen) == ["done", "done", "done", "failed"]
    assert cli("colorize", tmp_path / "in", "-o", tmp_path / "cli", "-m", baseline_ckpt).exit_code == 1
    assert tree_hashes(tmp_path / "lib") == tree_hashes(tmp_path / "cli")
    again = bwcolor.colorize_paths([tmp_path / "in"], tmp_path / "lib", model=str(baseline_ckpt))
    assert (again.done, again.skipped) == (0, 3)


def test_colorize_paths_refuses_before_writing_anything(tmp_path, baseline_ckpt):
    write(tmp_path / "in" / "a.png", gray_of(gradient_rgb(24, 40)))
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        bwcolor.colorize_paths([tmp_path / "in"], tmp_path / "out", model="nope")
    with pytest.raises(UsageError, match="would overwrite an input"):
        bwcolor.colorize_paths([tmp_path / "in" / "a.png"], tmp_path / "in", model=str(baseline_ckpt))
    with pytest.raises(UsageError, match="--format"):
        bwcolor.colorize_paths([tmp_path / "in"], tmp_path / "out", model=str(baseline_ckpt), fmt="gif")
    assert not (tmp_path / "out").exists()


def test_one_string_or_path_is_one_input_not_its_characters(tmp_path, baseline_ckpt, monkeypatch):
    write(tmp_path / "in" / "a.png", gray_of(gradient_rgb(24, 40)))
    write(tmp_path / "other.png", gray_of(gradient_rgb(24, 40, seed=1)))  # in the working folder
    monkeypatch.chdir(tmp_path)
    for given in ("in/a.png", tmp_path / "in" / "a.png"):
        summary = bwcolor.colorize_paths(given, tmp_path / "out", model=str(baseline_ckpt), overwrite=True)
        assert summary.done == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "bool", "complex64"])
def test_colorize_image_refuses_arrays_whose_levels_are_unknown(dtype):
    model = bwcolor.load_model("baseline")
    with pytest.raises(ValueError, match=f"unsupported image type {dtype}"):
        bwcolor.colorize_image(model, np.zeros((16, 16), dtype))


def test_colorize_image_returns_the_input_type_in_either_byte_order(tmp_path):
    model = bwcolor.load_model("baseline")
    gray = gray_of(gradient_rgb(24, 40)).astype(np.uint16) * 257
    native = bwcolor.colorize_image(model, gray)
    swapped = bwcolor.colorize_image(model, gray.astype(">u2"))
    assert native.dtype == np.uint16 and swapped.dtype == np.dtype(">u2")
    assert np.array_equal(native, swapped.astype(np.uint16))
    assert 20_000 < native.mean() < 45_000  # levels of the gradient, not near-white
    for kind in (np.float16, np.float64):
        out = bwcolor.colorize_image(model, (gray / 65535).astype(kind))
        assert out.dtype == kind and np.abs(out.astype(np.float32) - native / 65535).max() < 0.01
