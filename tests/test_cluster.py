"""`bwcolor colorize --scheduler`: a local Dask cluster (2 worker processes on loopback) gives the
same outputs as a local run, and the same summary, skipping and errors."""

import json

import pytest

from tests.conftest import gradient_rgb, gray_of, tree_hashes, write

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as c:
        yield c


def test_cluster_outputs_equal_a_local_run(tmp_path, cli, baseline_ckpt, cluster):
    src = tmp_path / "in"
    for i in range(40):  # 3 shares of up to 16 files
        write(src / f"d{i % 3}" / f"p{i:02d}.png", gray_of(gradient_rgb(40 + i, 64, seed=i)))
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    before = tree_hashes(src)
    local = cli("colorize", src, "-o", tmp_path / "local", "-m", baseline_ckpt, "--json", "-q")
    remote = cli("colorize", src, "-o", tmp_path / "remote", "-m", baseline_ckpt, "--json", "-q",
                 "--scheduler", cluster.scheduler_address)  # fmt: skip
    assert local.exit_code == remote.exit_code == 1  # the broken file, in both
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert (a["done"], a["failed"]) == (b["done"], b["failed"]) == (40, 1)
    assert "broken.jpg" in remote.stderr and "not a supported image" in remote.stderr
    assert tree_hashes(tmp_path / "remote") == tree_hashes(tmp_path / "local")
    again = cli("colorize", src, "-o", tmp_path / "remote", "-m", baseline_ckpt, "--json", "-q",
                "--scheduler", cluster.scheduler_address)  # fmt: skip
    assert json.loads(again.stdout)["skipped"] == 40  # a rerun skips what is done
    assert tree_hashes(src) == before


def test_unreachable_scheduler_is_a_usage_error(tmp_path, cli, baseline_ckpt, monkeypatch):
    monkeypatch.setattr("bwcolor.pipeline.cluster.CONNECT_TIMEOUT", "2s")
    write(tmp_path / "in" / "x.png", gray_of(gradient_rgb(16, 16)))
    for address in ("tcp://127.0.0.1:9", "not a url"):
        res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt,
                  "--scheduler", address)  # fmt: skip
        assert res.exit_code == 2, res.output
        assert f"cannot reach the Dask scheduler at {address}" in res.stderr and "Traceback" not in res.output


def test_a_worker_killed_mid_run_loses_nothing(tmp_path, baseline_ckpt, cluster):
    import os
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "in"
    for i in range(48):
        write(src / f"p{i:02d}.png", gray_of(gradient_rgb(300, 400, seed=i)))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bwcolor", "colorize", str(src), "-o", str(out), "-m", str(baseline_ckpt),
           "--json", "-q", "--scheduler", cluster.scheduler_address]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with distributed.Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
        deadline = time.monotonic() + 60
        while not (out.exists() and any(out.iterdir())):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        os.kill(next(iter(pids.values())), signal.SIGKILL)  # one worker dies mid-share
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["done"] == 48
    local = tmp_path / "local"
    from typer.testing import CliRunner

    from bwcolor.cli import app

    res = CliRunner().invoke(app, ["colorize", str(src), "-o", str(local), "-m", str(baseline_ckpt), "-q"])
    assert res.exit_code == 0, res.output
    assert tree_hashes(out) == tree_hashes(local)  # every file, whole, as a local run writes it


def test_videos_on_a_cluster_are_one_task_each(tmp_path, cli, baseline_ckpt, cluster):
    import av

    from bwcolor.pipeline.cluster import SHARE_SIZE, _shares
    from bwcolor.quality.synthetic import pan, write_clip

    src = tmp_path / "in"
    for i in range(3):
        write_clip(src / f"film{i}.mp4", pan(gradient_rgb(60, 120, seed=i), (48, 64), 5 + i).frames, fps=12)
    for i in range(SHARE_SIZE + 1):
        write(src / f"p{i:02d}.png", gray_of(gradient_rgb(30, 40, seed=i)))
    res = cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt, "--json", "-q",
              "--scheduler", cluster.scheduler_address)  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["done"], summary["videos"], summary["frames"]) == (SHARE_SIZE + 4, 3, 5 + 6 + 7)
    for i in range(3):
        with av.open(str(tmp_path / "out" / f"film{i}.mp4")) as c:
            assert sum(1 for _ in c.decode(video=0)) == 5 + i
    from bwcolor.pipeline.jobs import Job

    jobs = [Job(p, tmp_path / "o" / p.name) for p in sorted(src.iterdir())]
    shares = _shares(jobs)
    assert [len(s) for s in shares] == [SHARE_SIZE, 1, 1, 1, 1]  # photos by 16, then a video a task
    assert all(s[0].source.suffix == ".mp4" for s in shares[2:])
