"""The library call behind `bwcolor colorize`: the same outputs, skips and summary from Python."""

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
