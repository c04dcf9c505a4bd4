"""Shared fixtures: tiny generated images and small checkpoints made by the tests themselves."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bwcolor import create_model, save_checkpoint
from bwcolor.cli import app

# Runs that are not given --cache-dir (e.g. resumed ones) cache here, never in the user's home.
os.environ["BWCOLOR_CACHE"] = tempfile.mkdtemp(prefix="bwcolor-test-cache-")
atexit.register(shutil.rmtree, os.environ["BWCOLOR_CACHE"], ignore_errors=True)


def gradient_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colourful uint8 RGB image with some texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 0.5 + 0.5 * np.sin(x / max(w, 1) * 6.28 + seed)
    g = 0.5 + 0.5 * np.cos(y / max(h, 1) * 6.28)
    b = 0.5 + 0.25 * np.sin((x + y) / 7.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 0.03, (h, w, 3))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def gray_of(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def write(path: Path, pixels: np.ndarray) -> Path:
    """Write with OpenCV (RGB order in, converted to BGR); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    a = pixels
    if a.ndim == 3 and a.shape[2] == 3:
        a = a[..., ::-1]
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[..., [2, 1, 0, 3]]
    assert cv2.imwrite(str(path), np.ascontiguousarray(a)), path
    return path


def deny_reading_as_root(monkeypatch, name: str) -> None:
    """Root reads any file: make opening files called ``name`` fail as it does for a user."""
    if os.geteuid() != 0:
        return
    real = Path.open

    def guarded(self, *args, **kwargs):
        if self.name == name:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded)


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (to show that a run modified no input)."""
    hashes = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            with open(p, "rb") as f:
                hashes[str(p.relative_to(root))] = hashlib.sha256(f.read()).hexdigest()
    return hashes


@pytest.fixture(scope="session")
def baseline_ckpt(tmp_path_factory) -> Path:
    """A randomly initialised baseline at a small render size (fast)."""
    torch.manual_seed(0)
    model = create_model("baseline", render_size=64)
    # Push the output layer's bias away from zero so that outputs are visibly coloured.
    with torch.no_grad():
        model.layers[-2].bias.copy_(torch.tensor([0.3, -0.2]))
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "baseline.safetensors")


@pytest.fixture(scope="session")
def fusion_ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = create_model("fusion", render_size=64)
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "fusion.safetensors")


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


#: Idle threads that Dask's distributed keeps for the life of the interpreter, by its design: its
#: offload executor, and the event loop of a client that failed to connect (it keeps no handle
#: to stop it). Not the tests' to end.
LIBRARY_THREADS = ("Dask-Offload", "IO loop")


#: Child processes that Python's multiprocessing and joblib's loky start once per interpreter to
#: clean up after worker processes at exit, by design (found by their command line).
LIBRARY_PROCESSES = ("resource_tracker",)


def _child_processes() -> set[int]:
    """Live (not zombie) child processes of this process (Linux; empty elsewhere), but for
    :data:`LIBRARY_PROCESSES`."""
    me, children = str(os.getpid()), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z" and not any(n.encode() in command for n in LIBRARY_PROCESSES):
            children.add(int(stat.parent.name))
    return children


@pytest.fixture(autouse=True, scope="module")
def leaves_nothing_running():
    """A test module must not leave threads or processes behind: they would run on into later
    tests (and into what those measure). Per module, so that a module's shared fixture (a Dask
    cluster) may live across its tests; a few seconds' grace for ones that are ending."""
    threads, children = set(threading.enumerate()), _child_processes()
    yield
    deadline = time.monotonic() + 5
    while True:
        left = [
            t for t in threading.enumerate()
            if t not in threads and t.is_alive() and not t.name.startswith(LIBRARY_THREADS)
        ]  # fmt: skip
        procs = _child_processes() - children
        if not (left or procs) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"threads left running: {[t.name for t in left]}"
    assert not procs, f"child processes left running: {sorted(procs)}"
