"""`bwcolor train` under torchrun: 2 processes on this CPU (gloo) train exactly as one does."""

import json
import subprocess
import sys

import pytest
import torch

from bwcolor.models.checkpoint import read_checkpoint
from tests.test_train import learnable_images

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed")
LR = 3e-3


def args(root, out):
    return ["train", root / "data", "--val", root / "val", "-m", "baseline", "--epochs", "2",
            "--image-size", "32", "--batch-size", "4", "--lr", str(LR), "--cache-dir", root / "cache",
            "--device", "cpu", "--precision", "fp32", "--workers", "1", "-q", "-o", out]  # fmt: skip


def run(*argv, processes=1):
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
    ]
    cmd = [*(launcher if processes > 1 else [sys.executable]), "-m", "bwcolor", *map(str, argv)]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={"OMP_NUM_THREADS": "1", **_env()}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _env():
    import os

    return dict(os.environ)


def weights(path):
    _, tensors = read_checkpoint(path)
    return {k: v for k, v in tensors.items() if not k.startswith("extra/")}


def assert_same_training(one: dict, two: dict) -> None:
    """Two runs followed the same trajectory, up to float32 reduction order.

    Two processes cannot match one bitwise: DDP sums the gradients in another order (float32
    addition is not associative, and the CPU's SIMD width decides the order inside a process),
    and Adam divides each gradient by its own running RMS, so a weight whose gradient is nearly
    zero can take a step of up to ``lr`` in a different direction. What is true on every CPU:
    each tensor as a whole is within 1e-3 of relative error (a wrong gradient, e.g. one process's
    alone or a double count, moves every tensor by far more), and no single weight differs by
    more than one Adam step (``lr``): rounding changed a step, it did not start a new trajectory.
    """
    assert one.keys() == two.keys()
    for key, a in one.items():
        b = two[key].float()
        a = a.float()
        rel = (b - a).norm() / a.norm().clamp_min(1e-12)
        assert rel <= 1e-3, f"{key}: relative difference {rel:.2e}"
        assert (b - a).abs().max() <= LR, f"{key}: a weight differs by more than one Adam step"


def log(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    learnable_images(root / "data", n=11)  # 3 batches of 4: the last one is short (3 images)
    learnable_images(root / "val", n=4, seed=99)
    run(*args(root, root / "one" / "m.safetensors"))
    return root


def test_two_processes_train_like_one(one_process):
    root = one_process
    done = run(*args(root, root / "two" / "m.safetensors"), processes=2)
    assert [ln for ln in done.stderr.splitlines() if ln.startswith("epoch 1:")] != []
    assert (
        len([ln for ln in done.stderr.splitlines() if ln.startswith("epoch 1:")]) == 1
    )  # rank 0 alone reports
    for a, b in zip(log(root / "one" / "m.log.jsonl"), log(root / "two" / "m.log.jsonl"), strict=True):
        # The losses average thousands of pixels: rounding moves them far less than the weights.
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    assert_same_training(
        weights(root / "one" / "m.last.safetensors"), weights(root / "two" / "m.last.safetensors")
    )


def test_resume_with_another_number_of_processes(one_process):
    from bwcolor.training.trainer import TrainingInterrupted, train

    root = one_process
    out = root / "resumed" / "m.safetensors"
    seen = 0

    def stop_after_4_batches(kind, **_):
        nonlocal seen
        seen += kind == "batch"
        if seen == 4:  # in epoch 2, mid-epoch
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        train(
            data=[str(root / "data")], val=[str(root / "val")], model="baseline", epochs=2, crop_size=32,
            batch_size=4, lr=LR, cache_dir=str(root / "cache"), device="cpu", precision="fp32", workers=1, output=str(out),
            on_event=stop_after_4_batches,
        )  # fmt: skip
    run("train", "--resume", out.with_name("m.last.safetensors"), "--device", "cpu", "-q", processes=2)
    assert_same_training(
        weights(root / "one" / "m.last.safetensors"), weights(out.with_name("m.last.safetensors"))
    )
    assert [r["epoch"] for r in log(out.with_name("m.log.jsonl"))] == [1, 2]


def test_more_processes_than_gpus_is_one_clear_error(monkeypatch):
    from bwcolor.errors import UsageError
    from bwcolor.training import distributed

    env = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(UsageError, match="--nproc-per-node=1"):
        distributed.start(torch.device("cuda"))
