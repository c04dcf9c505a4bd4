"""Killed and interrupted runs: no partial output, nothing lost, a rerun or --resume finishes.

These start real ``bwcolor`` processes (``python -m bwcolor``) and signal them.
"""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bwcolor.files.atomic import TEMP_SUFFIX
from bwcolor.files.decode import read_image
from tests.conftest import gradient_rgb, gray_of, tree_hashes, write

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def bwcolor(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bwcolor", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def scans(folder: Path, n: int = 24) -> Path:
    for i in range(n):
        write(folder / f"scan{i:02d}.png", gray_of(gradient_rgb(600, 800, seed=i)))
    return folder


def wait_for(predicate, proc, timeout=60.0) -> None:
    """Wait until ``predicate()`` holds; fails if ``proc`` ends first (a fast machine may end it
    between two looks, so the predicate is asked once more after the end)."""
    end = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            assert predicate(), proc.communicate()
            return
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if not p.name.startswith("."))


def test_sigkill_at_random_moments_leaves_no_partial_output(tmp_path, baseline_ckpt):
    src = scans(tmp_path / "in")
    before = tree_hashes(src)
    args = ("colorize", src, "-m", baseline_ckpt, "--batch-size", "1", "-q")
    ref = bwcolor(*args, "-o", tmp_path / "ref")
    assert ref.wait(120) == 0, ref.communicate()
    out = tmp_path / "out"
    seed = int(os.environ.get("BWCOLOR_KILL_SEED", "0"))  # fixed: the same moments on every run
    print(f"kill moments from seed {seed} (rerun with BWCOLOR_KILL_SEED={seed})")
    rng = random.Random(seed)
    kills = 0
    for _ in range(3):
        proc = bwcolor(*args, "-o", out)
        done_before = len(visible(out)) if out.exists() else 0
        # Killed once 1 to 4 more outputs are there: a moment in the run on a slow or a fast machine.
        more = rng.randint(1, 4)
        wait_for(lambda n=done_before + more: out.exists() and len(visible(out)) >= min(n, 24), proc)
        time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        for path in visible(out):  # everything visible is complete and whole
            assert read_image(path).pixels.shape == (600, 800, 3), path
    assert kills >= 1
    # A temporary file of a dead process (as SIGKILL during a write leaves) is cleaned up.
    (out / f".scan00.png.{os.uname().nodename.replace('.', '_')}-{proc.pid}.x1y2z3{TEMP_SUFFIX}").write_bytes(
        b"half"
    )
    final = bwcolor(*args, "-o", out, "--json")
    stdout, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["done"] + summary["skipped"] == 24 and summary["failed"] == 0
    assert list(out.glob(f"*{TEMP_SUFFIX}")) == [] and list(out.glob(".*")) == []
    assert tree_hashes(out) == tree_hashes(tmp_path / "ref")  # identical to an uninterrupted run
    assert tree_hashes(src) == before


def test_sigint_stops_after_the_current_batch_with_a_summary(tmp_path, baseline_ckpt):
    src = scans(tmp_path / "in", n=40)
    out = tmp_path / "out"
    proc = bwcolor("colorize", src, "-o", out, "-m", baseline_ckpt, "--batch-size", "2", "--json")
    wait_for(lambda: out.exists() and len(visible(out)) >= 2, proc)
    # Paused first, so that however fast the machine the run cannot end before the signal lands.
    proc.send_signal(signal.SIGSTOP)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGCONT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "stopping after the current batch" in stderr and "Traceback" not in stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] and 2 <= summary["done"] < 40
    assert len(visible(out)) == summary["done"]  # every file it reports is written, no more
    for path in visible(out):
        assert read_image(path).pixels.shape == (600, 800, 3)
    assert list(out.glob(".*")) == []


def test_train_killed_loses_at_most_the_current_epoch(tmp_path):
    from tests.test_train import learnable_images

    data = learnable_images(tmp_path / "data", n=8)
    val = learnable_images(tmp_path / "val", n=2, seed=9)
    out = tmp_path / "run" / "m.safetensors"
    log = tmp_path / "run" / "m.log.jsonl"
    args = ("train", data, "--val", val, "-o", out, "--epochs", "60", "--image-size", "16", "--batch-size", "4",
            "--cache-dir", tmp_path / "cache", "--device", "cpu", "-q")  # fmt: skip
    proc = bwcolor(*args)
    wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    logged = len(log.read_text().splitlines())
    assert logged < 60, "finished before the kill: make the run longer"
    from bwcolor.models.checkpoint import read_checkpoint

    header, _ = read_checkpoint(out.with_name("m.last.safetensors"))
    saved = header["meta"]["train_state"]["epoch"]
    assert saved >= logged - 1  # at most the epoch in progress is lost
    resumed = bwcolor("train", "--resume", out.with_name("m.last.safetensors"), "-q")
    _, stderr = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, stderr
    epochs = [json.loads(line)["epoch"] for line in log.read_text().splitlines()]
    assert epochs == list(range(1, 61))


@pytest.mark.parametrize(
    ("where", "code", "cause"),
    [("fsync", errno.ENOSPC, "No space left on device"), ("create", errno.EROFS, "Read-only file system")],
)
def test_full_disk_or_read_only_output_fails_each_file_cleanly(
    tmp_path, cli, baseline_ckpt, monkeypatch, where, code, cause
):
    from bwcolor.files import atomic

    for i in range(3):
        write(tmp_path / "in" / f"x{i}.jpg", gray_of(gradient_rgb(32, 32, seed=i)))
    target = {"fsync": (atomic.os, "fsync"), "create": (atomic, "_create_temporary")}[where]
    real = getattr(*target)

    def failing(*args, **kwargs):
        if where == "fsync":
            real(*args, **kwargs)  # the data is in the temporary file when the disk fills up
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(*target, failing)
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt)
    assert res.exit_code == 1 and "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("bwcolor: error:")]
    assert len(errors) == 3 and all(cause in ln and "cannot write" in ln for ln in errors)
    leftovers = list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else []
    assert leftovers == []  # neither outputs nor temporary files


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path, cli, baseline_ckpt):
    write(tmp_path / "in" / "x.jpg", gray_of(gradient_rgb(32, 32)))
    (tmp_path / "out").mkdir()
    os.chmod(tmp_path / "out", 0o555)
    try:
        res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt)
    finally:
        os.chmod(tmp_path / "out", 0o755)
    assert res.exit_code == 1 and "Permission denied" in res.stderr and "Traceback" not in res.output
    assert list((tmp_path / "out").iterdir()) == []


def test_killed_process_temporaries_are_recognised(tmp_path):
    from bwcolor.files.atomic import remove_stale_temporaries

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    host = os.uname().nodename.replace(".", "_")
    dead = tmp_path / f".a.v1.jpg.{host}-{proc.pid}.abc{TEMP_SUFFIX}"
    alive = tmp_path / f".b.jpg.{host}-{os.getpid()}.abc{TEMP_SUFFIX}"
    other = tmp_path / f".c.jpg.otherhost-{os.getpid()}.abc{TEMP_SUFFIX}"
    for p in (dead, alive, other):
        p.write_bytes(b"x")
    assert remove_stale_temporaries([tmp_path]) == 1
    assert not dead.exists() and alive.exists() and other.exists()
    os.utime(other, (0, 0))  # another host's, untouched for decades
    assert remove_stale_temporaries([tmp_path]) == 1 and not other.exists()
    np.testing.assert_equal(alive.read_bytes(), b"x")
