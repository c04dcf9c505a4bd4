"""`bwcolor train` at scale, on small generated data: stopping and resuming long runs, extending
them, balancing sources, caching in worker processes, and memory that does not grow with the
number of photos."""

import os
import signal

import numpy as np
import pytest
import torch

from bwcolor.errors import UsageError
from bwcolor.models.checkpoint import read_checkpoint
from bwcolor.training import dataset
from bwcolor.training.trainer import TrainingInterrupted, train
from tests.conftest import write
from tests.test_train import config, learnable_images


def weights(path):
    return {k: v for k, v in read_checkpoint(path)[1].items() if not k.startswith("extra/")}


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


def stop_at(batch_number, action):
    """An on_event hook that calls ``action`` when the given batch (counted from 1) is done."""
    seen = 0

    def hook(kind, **_):
        nonlocal seen
        if kind == "batch":
            seen += 1
            if seen == batch_number:
                action()

    return hook


def test_sigterm_saves_a_checkpoint_that_resumes_exactly(tmp_path):
    data = learnable_images(tmp_path / "data", n=10)  # 3 batches of 4 per epoch
    full = train(config(tmp_path, data, output=str(tmp_path / "a" / "m.safetensors")))
    cfg = config(tmp_path, data, output=str(tmp_path / "b" / "m.safetensors"))
    with pytest.raises(TrainingInterrupted) as stopped:
        train(cfg, on_event=stop_at(4, lambda: os.kill(os.getpid(), signal.SIGTERM)))
    assert stopped.value.signum == signal.SIGTERM
    state = read_checkpoint(stopped.value.path)[0]["meta"]["train_state"]
    assert (state["epoch"], state["batch"]) == (1, 1)
    resumed = train(resume=stopped.value.path)
    assert_same_weights(full["last"], resumed["last"])
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is gone after training


def sigterm_at(event, name=None):
    """An on_event hook that sends this process SIGTERM at the first ``event`` (of phase ``name``)."""

    def hook(kind, **info):
        if kind == event and (name is None or info.get("name") == name):
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def test_sigterm_before_training_is_one_clear_stop_and_the_rerun_reuses_the_cache(tmp_path, cli, monkeypatch):
    """Stopped while preparing (here: at fusion's backbone embeddings), there is no checkpoint to
    save; the run says so, and the same command picks up the decoded photos from the cache."""
    data = learnable_images(tmp_path / "data", n=8)
    cfg = config(tmp_path, data, model="fusion", epochs=1)
    with pytest.raises(TrainingInterrupted, match="before training began: nothing to resume") as stopped:
        train(cfg, on_event=sigterm_at("phase", "backbone embeddings"))
    assert stopped.value.signum == signal.SIGTERM and stopped.value.path is None
    assert not (tmp_path / "out" / "m.last.safetensors").exists()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    again = train(config(tmp_path, data, model="fusion", epochs=1))
    assert again["data"]["decoded"] == 0 and again["history"][0]["epoch"] == 1

    def stopped_loading(*args, **kwargs):  # through the command line: exit 143 and one line
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr("bwcolor.training.trainer._load_data", stopped_loading)
    res = cli(
        "train", data, "-o", tmp_path / "cli" / "m.safetensors", "--cache-dir", tmp_path / "cache", "-q"
    )
    assert res.exit_code == 143, res.output
    assert res.stderr.strip().splitlines() == [
        "bwcolor: interrupted before training began: nothing to resume; the same command starts again "
        "and reuses the cache"
    ]


def test_sigterm_between_epochs_points_at_the_checkpoint_saved_last(tmp_path):
    data = learnable_images(tmp_path / "data", n=10)
    full = train(config(tmp_path, data, output=str(tmp_path / "a" / "m.safetensors")))
    cfg = config(tmp_path, data, output=str(tmp_path / "b" / "m.safetensors"))
    with pytest.raises(
        TrainingInterrupted, match="the resumable checkpoint saved last, is as it was"
    ) as stopped:
        train(cfg, on_event=sigterm_at("epoch_end"))
    assert stopped.value.path == tmp_path / "b" / "m.last.safetensors"
    resumed = train(resume=stopped.value.path)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    assert_same_weights(full["last"], resumed["last"])


def test_the_periodic_checkpoint_of_a_killed_run_resumes_exactly(tmp_path):
    """checkpoint_minutes=0 saves after every batch: a run killed (here: an error nothing
    catches, as SIGKILL would) mid-epoch resumes from its last batch, not its last epoch."""
    data = learnable_images(tmp_path / "data", n=10)
    full = train(config(tmp_path, data, output=str(tmp_path / "a" / "m.safetensors")))
    cfg = config(tmp_path, data, output=str(tmp_path / "b" / "m.safetensors"), checkpoint_minutes=0)

    def crash():
        raise SystemExit("killed")

    with pytest.raises(SystemExit):
        train(cfg, on_event=stop_at(5, crash))
    last = tmp_path / "b" / "m.last.safetensors"
    state = read_checkpoint(last)[0]["meta"]["train_state"]
    assert (state["epoch"], state["batch"]) == (1, 1)  # saved after batch 4, the 1st of epoch 2
    resumed = train(resume=last)
    assert_same_weights(full["last"], resumed["last"])
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]


def test_resume_with_more_epochs_extends_the_run(tmp_path):
    data = learnable_images(tmp_path / "data", n=8)
    first = train(config(tmp_path, data, epochs=2))
    more = train(resume=first["last"], epochs=3)
    assert [h["epoch"] for h in more["history"]] == [1, 2, 3]
    assert read_checkpoint(more["last"])[0]["meta"]["train_config"]["epochs"] == 3
    with pytest.raises(UsageError, match="already trained 3 epochs"):
        train(resume=more["last"], epochs=2)


def test_resume_refuses_options_that_would_make_another_run(tmp_path):
    data = learnable_images(tmp_path / "data", n=8)
    first = train(config(tmp_path, data, epochs=1))
    with pytest.raises(UsageError, match=r"--batch-size, --lr cannot change") as refused:
        train(resume=first["last"], lr=0.5, batch_size=2, epochs=2)
    assert "--epochs" in str(refused.value)  # and it says which ones can
    again = train(resume=first["last"], lr=3e-3, epochs=1)  # the same value is no change
    assert len(again["history"]) == 1


def test_resume_through_the_cli_names_the_refused_options(tmp_path, cli):
    data = learnable_images(tmp_path / "data", n=8)
    first = train(config(tmp_path, data, epochs=1))
    res = cli("train", "--resume", first["last"], "--lr", "0.5", "--image-size", "64")
    assert res.exit_code == 2
    assert "--crop-size, --lr cannot change" in res.stderr and "Traceback" not in res.output
    res = cli("train", "--resume", first["last"], "--epochs", "2", "-q", "--cache-dir", tmp_path / "cache")
    assert res.exit_code == 0, res.output
    assert "epoch 2:" in res.stderr


def test_resume_accepts_the_saved_command_repeated_with_paths_spelt_otherwise(tmp_path, cli, monkeypatch):
    """Repeating the first command with --resume added must work: the data and -o name the same
    files (relative or absolute, the folder or the file), so nothing is refused."""
    data = learnable_images(tmp_path / "data", n=8)
    first = train(config(tmp_path, data, epochs=1, output=str(tmp_path / "out" / "baseline.safetensors")))
    monkeypatch.chdir(tmp_path)
    res = cli(
        "train", "data", "--resume", first["last"], "-o", "out", "-m", "baseline", "--epochs", "2",
        "-q", "--cache-dir", tmp_path / "cache",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "epoch 2:" in res.stderr
    res = cli("train", "other", "--resume", first["last"], "-o", "elsewhere", "--epochs", "2")
    assert res.exit_code == 2
    assert "--data, --output cannot change" in res.stderr


def test_max_per_source_balances_each_epoch_and_sees_every_image_over_epochs(tmp_path):
    big = learnable_images(tmp_path / "big", n=30)
    small = learnable_images(tmp_path / "small", n=5, seed=7)
    files = [dataset.DataFile(p, str(big)) for p in sorted(big.iterdir())]
    files += [dataset.DataFile(p, str(small)) for p in sorted(small.iterdir())]
    train_set, _, summary = dataset.load_images(files, 40, tmp_path / "cache", 0.0)
    assert summary.sources == {str(big): {"train": 30, "val": 0}, str(small): {"train": 5, "val": 0}}
    source = np.array(train_set.sources)
    seen = set()
    for epoch in range(5):
        order = dataset.epoch_indices(train_set, seed=0, epoch=epoch, max_per_source=6)
        assert len(order) == len(set(order.tolist())) == dataset.epoch_size(train_set, 6) == 11
        assert (source[order] == str(big)).sum() == 6 and (source[order] == str(small)).sum() == 5
        seen |= set(order.tolist())
    assert seen == set(range(35))  # 5 epochs of 6 of the 30: the big source is seen whole
    sixth = dataset.epoch_indices(train_set, 0, 5, 6)
    assert len(set(sixth.tolist())) == 11  # then walked through again, in a new order
    assert not np.array_equal(
        dataset.epoch_indices(train_set, 0, 0, 6), dataset.epoch_indices(train_set, 0, 1, 6)
    )
    cfg = config(tmp_path, big, max_per_source=6, epochs=1)
    cfg.data = [str(big), str(small)]
    result = train(cfg)
    assert result["history"][0]["epoch"] == 1
    assert read_checkpoint(result["last"])[0]["meta"]["train_state"]["step"] == 3  # 11 images, batches of 4


def test_fusion_embeds_only_the_photos_its_epochs_draw(tmp_path):
    """With --max-per-source, the backbone embeddings (the slow part of preparing a fusion run)
    are computed for the photos the epochs will draw, not for every training photo; extending
    the run with --epochs embeds the next epoch's."""
    big = learnable_images(tmp_path / "big", n=30)
    small = learnable_images(tmp_path / "small", n=3, seed=7)
    cfg = config(tmp_path, big, model="fusion", max_per_source=5, epochs=1)
    cfg.data = [str(big), str(small)]
    first = train(cfg)
    cache = tmp_path / "cache"
    assert len(list(cache.rglob("*.emb16.npy"))) == 5 + 3 + 4  # drawn from each source + validation
    more = train(resume=first["last"], epochs=2, cache_dir=str(cache))
    assert [h["epoch"] for h in more["history"]] == [1, 2]
    assert len(list(cache.rglob("*.emb16.npy"))) == 10 + 3 + 4  # the big source's next five too


def test_validation_limit_takes_every_source_in_turn(tmp_path):
    a = learnable_images(tmp_path / "a", n=20)
    b = learnable_images(tmp_path / "b", n=3, seed=5)
    files = [dataset.DataFile(p, "a") for p in sorted(a.iterdir())]
    files += [dataset.DataFile(p, "b") for p in sorted(b.iterdir())]
    train_set, val_set, summary = dataset.load_images(files, 40, tmp_path / "cache", 0.99, val_limit=6)
    assert len(val_set) == 6
    assert summary.sources["b"]["val"] == 3 and summary.sources["a"]["val"] == 3
    assert val_set.digests == sorted(val_set.digests)


#: Measured in a fresh interpreter: tracemalloc counts every thread's allocations, and nothing
#: an earlier test left (a library's idle thread, a warm cache) may enter the measurement.
MEASURE_MEMORY = """
import json, sys, tracemalloc
from pathlib import Path
import numpy as np
from bwcolor.training import dataset
from bwcolor.lab import Normalisation

folder, cache = Path(sys.argv[1]), Path(sys.argv[2])
files = [dataset.DataFile(p, "many") for p in sorted(folder.iterdir())]
rng = np.random.default_rng(0)
first, _, _ = dataset.load_images(files[:8], 64, cache / "warm-up", 0.0)  # imports, first-use tables
dataset.training_batch(first.images, np.arange(8), 32, rng, Normalisation())
tracemalloc.start()
train_set, _, summary = dataset.load_images(files, 64, cache, 0.0)
for k in range(0, len(files), 200):
    dataset.training_batch(train_set.images, np.arange(k, k + 16), 32, rng, Normalisation())
print(json.dumps({"peak": tracemalloc.get_traced_memory()[1], "train": summary.train, "decoded": summary.decoded}))
"""


def test_memory_does_not_grow_with_the_number_of_photos(tmp_path):
    """Two thousand photos are hashed, cached and batched without holding them: the peak of
    Python and numpy allocations stays far below what holding the decoded photos would take."""
    import json
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    folder = tmp_path / "many"
    for i in range(2000):
        write(folder / f"{i:04d}.png", rng.integers(0, 255, (64, 64, 3), np.uint8))
    held = 2000 * 64 * 64 * 3  # bytes of the photos, decoded (uint8): 24.6 MB
    cmd = [sys.executable, "-c", MEASURE_MEMORY, str(folder), str(tmp_path / "cache")]
    measured = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert measured["train"] == 2000 and measured["decoded"] == 2000  # none of them decoded before
    # what it holds per photo is its name and hash (about 1.2 kB here, 3 MB in all), not its pixels
    assert measured["peak"] < held / 6, f"peak {measured['peak'] / 1e6:.1f} MB"


def test_hashing_and_decoding_run_in_worker_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset, "PARALLEL_FROM", 1)
    monkeypatch.setattr(dataset, "CHUNK", 4)
    data = learnable_images(tmp_path / "data", n=12)
    (data / "broken.png").write_bytes(b"not a png")
    write(data / "gray.png", np.full((40, 40), 100, np.uint8))
    files = [dataset.DataFile(p, "data") for p in sorted(data.iterdir())]
    events = []
    train_set, _, summary = dataset.load_images(
        files, 40, tmp_path / "cache", 0.0, jobs=2, on_event=lambda k, **e: events.append((k, e))
    )
    assert (summary.train, summary.skipped_gray, summary.skipped_unreadable) == (12, 1, 1)
    phases = [e["name"] for k, e in events if k == "phase"]
    assert phases == ["hashing", "decoding into the cache"]
    second = [k for k, _ in events].index("phase", 1)
    hashing = [e["n"] for k, e in events[1:second]]
    assert hashing == [4, 4, 4, 2]  # progress moves a chunk at a time
    assert sum(e["n"] for k, e in events[second:] if k == "advance") == 14
    again = dataset.load_images(files, 40, tmp_path / "cache", 0.0, jobs=2)[2]
    assert again.decoded == 0 and again.skipped_unreadable == 1  # the failure is remembered too


def test_a_cache_that_would_not_fit_is_refused_before_decoding(tmp_path, monkeypatch):
    data = learnable_images(tmp_path / "data", n=4)
    monkeypatch.setattr(dataset, "DISK_MARGIN", 1 << 60)
    with pytest.raises(UsageError, match=r"the image cache needs about .* GB .* free"):
        train(config(tmp_path, data))
    assert not list((tmp_path / "cache").rglob("*.npy"))


def test_a_log_file_gets_progress_lines_for_every_phase(tmp_path, cli):
    """stderr that is not a terminal (a log file) gets plain lines, not a bar drawn at the end."""
    data = learnable_images(tmp_path / "data", n=10)
    res = cli(
        "train", data, "-m", "baseline", "-o", tmp_path / "m.safetensors", "--image-size", "32",
        "--batch-size", "4", "--epochs", "1", "--val-fraction", "0.3", "--cache-dir", tmp_path / "cache",
        "--checkpoint-minutes", "0",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    for line in ("hashing: 10/10 in", "decoding into the cache: 10/10 in", "epoch 1/1, batches: 0/"):
        assert line in res.stderr, res.stderr
    assert "resumable checkpoint saved" in res.stderr
    assert "best checkpoint:" in res.stderr and "(gray, a=b=0:" in res.stderr
    again = cli("train", data, "-m", "baseline", "-o", tmp_path / "again", "--image-size", "32", "--epochs", "1",
                "--val-fraction", "0.3", "--cache-dir", tmp_path / "cache")  # fmt: skip
    assert "decoding into the cache: 10/10 found in the cache" in again.stderr, again.stderr


def test_time_left_counts_only_the_work_done_in_this_phase(monkeypatch):
    """Photos found in the cache at a phase's start are not progress made: 50 of 100 cached, then
    10 done in 10 s leaves 40 s, not 8 s."""
    from bwcolor.cli import progress

    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    lines = []
    monkeypatch.setattr(progress, "say", lambda console, text: lines.append(text))
    log = progress.LogLines(None, every=5)
    log.event("phase", {"name": "backbone embeddings", "total": 100, "done": 50})
    clock[0] = 10.0
    log.event("advance", {"n": 10})
    assert lines[0].endswith("backbone embeddings: 50/100 found in the cache")
    assert lines[1].endswith("backbone embeddings: 60/100, 40 s left")


def test_a_resumed_run_writes_only_beside_the_checkpoint_it_was_given(tmp_path):
    """A crafted checkpoint's saved output path is ignored: it cannot aim the run at a photo."""
    import json as _json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    data = learnable_images(tmp_path / "data", n=8)
    victim = tmp_path / "album" / "wedding.png"
    write(victim, np.full((20, 20, 3), 200, np.uint8))
    before = victim.read_bytes()
    first = train(config(tmp_path, data, epochs=1))
    with safe_open(first["last"], framework="pt") as f:
        header = dict(f.metadata())
    meta = _json.loads(header["meta"])
    meta["train_config"]["output"] = str(victim.with_suffix(".safetensors"))
    meta["train_config"]["cache_dir"] = str(tmp_path / "album")
    header["meta"] = _json.dumps(meta)
    crafted = tmp_path / "elsewhere" / "run.last.safetensors"
    crafted.parent.mkdir()
    save_file(load_file(first["last"]), str(crafted), metadata=header)
    resumed = train(resume=crafted, epochs=2, cache_dir=str(tmp_path / "cache"))
    assert victim.read_bytes() == before and sorted(p.name for p in victim.parent.iterdir()) == [
        "wedding.png"
    ]
    assert resumed["best"] == str(tmp_path / "elsewhere" / "run.safetensors")
    assert sorted(p.name for p in crafted.parent.iterdir()) == [
        "run.last.safetensors", "run.log.jsonl", "run.loss.png", "run.safetensors",
    ]  # fmt: skip


def test_outputs_never_overwrite_a_training_photo_or_a_foreign_file(tmp_path, cli):
    data = learnable_images(tmp_path / "data", n=8)
    photo = data / "img00.png"
    before = photo.read_bytes()
    common = [
        "-m",
        "baseline",
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--cache-dir",
        tmp_path / "cache",
        "-q",
    ]
    res = cli("train", data, "-o", photo, *common)
    assert res.exit_code == 2 and "exists and is not a folder" in res.stderr
    res = cli("train", data, "-o", data / "img00.safetensors", *common)  # its loss plot: img00.loss.png
    assert res.exit_code == 0 and photo.read_bytes() == before
    (data / "shot.loss.png").write_bytes(photo.read_bytes())  # a photo that happens to have that name
    res = cli("train", data, "-o", data / "shot.safetensors", *common)
    assert res.exit_code == 2 and "would overwrite a training image" in res.stderr
    res = cli("train", data, "-o", data / "img01", *common)  # its loss plot would be img01.loss.png: not
    assert res.exit_code == 0 and photo.read_bytes() == before
    notes = tmp_path / "notes.safetensors"
    notes.write_text("my notes")
    res = cli("train", data, "-o", notes, *common)
    assert res.exit_code == 2 and "is not a bwcolor checkpoint" in res.stderr
    assert notes.read_text() == "my notes" and photo.read_bytes() == before


def test_the_run_never_trains_on_its_own_loss_plot(tmp_path):
    data = learnable_images(tmp_path / "data", n=8)
    first = train(config(tmp_path, data, epochs=1, output=str(data / "m.safetensors")))
    assert (data / "m.loss.png").exists() and first["data"]["train"] == 8
    again = train(config(tmp_path, data, epochs=1, output=str(data / "m.safetensors")))
    assert again["data"]["train"] == 8  # not 9: the plot left by the first run is not a photo to learn


def test_the_command_line_speaks_like_the_other_commands(tmp_path, cli):
    """-o a folder (as colorize and benchmark), --crop-size, --limit, --precision, --json."""
    import json as _json

    data = learnable_images(tmp_path / "data", n=8)
    res = cli(
        "train", data, "-m", "baseline", "-o", tmp_path / "runs", "--crop-size", "32", "--limit", "5",
        "--epochs", "1", "--precision", "fp32", "--cache-dir", tmp_path / "cache", "--json", "-q",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = _json.loads(res.stdout)
    assert result["best"] == str(tmp_path / "runs" / "baseline.safetensors") and result["data"]["train"] == 5
    assert (tmp_path / "runs" / "baseline.last.safetensors").exists()
    res = cli("train", data, "-m", "baseline", "-o", tmp_path / "x", "--precision", "fp16")
    assert res.exit_code == 2 and "--precision must be auto, fp32 or bf16 for training" in res.stderr


def test_init_from_starts_a_new_run_from_a_checkpoints_weights(tmp_path):
    data = learnable_images(tmp_path / "data", n=8)
    first = train(config(tmp_path, data, epochs=3, lr=1e-2, output=str(tmp_path / "a" / "m.safetensors")))
    scratch = train(config(tmp_path, data, epochs=1, lr=1e-9, output=str(tmp_path / "b" / "m.safetensors")))
    tuned = train(config(tmp_path, data, epochs=1, lr=1e-9, init_from=first["best"],
                         output=str(tmp_path / "c" / "m.safetensors")))  # fmt: skip
    # lr ~0: each run validates the weights it started from
    assert tuned["history"][0]["val_loss"] == pytest.approx(first["best_val_loss"], rel=1e-4)
    assert tuned["history"][0]["val_loss"] < scratch["history"][0]["val_loss"]
    with pytest.raises(UsageError, match="a baseline checkpoint, not fusion"):
        train(config(tmp_path, data, model="fusion", init_from=first["best"], output=str(tmp_path / "d")))


def test_a_second_stage_can_tune_more_of_the_encoder_than_the_first(tmp_path, cli):
    data = learnable_images(tmp_path / "data", n=6)
    common = [
        "--crop-size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "3",
        "--cache-dir",
        tmp_path / "cache",
        "-q",
    ]
    first = cli("train", data, "-o", tmp_path / "one", *common)
    assert first.exit_code == 0, first.output
    second = cli("train", data, "-o", tmp_path / "two", "--init-from", tmp_path / "one" / "effnet_unet.safetensors",
                 "--tune-encoder-blocks", "1", *common)  # fmt: skip
    assert second.exit_code == 0, second.output
    header, tensors = read_checkpoint(tmp_path / "two" / "effnet_unet.safetensors")
    assert header["config"]["tune_encoder_blocks"] == 1
    assert any(k.startswith("encoder.net._blocks.15.") for k in tensors)
    wrong = cli("train", data, "-m", "baseline", "-o", tmp_path / "b", "--tune-encoder-blocks", "2", *common)
    assert wrong.exit_code == 2 and "--tune-encoder-blocks is for effnet_unet" in wrong.stderr


def test_a_validation_photo_is_never_trained_on_under_another_name(tmp_path):
    data = learnable_images(tmp_path / "data", n=6)
    val = tmp_path / "heldout"
    val.mkdir()
    (val / "copy.png").write_bytes((data / "img03.png").read_bytes())  # the same photo, renamed
    files = [dataset.DataFile(p, "data") for p in sorted(data.iterdir())]
    files += [dataset.DataFile(val / "copy.png", "val", is_val=True)]
    train_set, val_set, _ = dataset.load_images(files, 40, tmp_path / "cache", 0.0)
    assert len(train_set) == 5 and len(val_set) == 1
    assert data / "img03.png" not in train_set.paths


def _edited(src, dst, edit):
    """A copy of checkpoint ``src`` whose meta (decoded JSON) and tensors ``edit(meta, tensors)`` changed."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(src), framework="pt") as f:
        header = dict(f.metadata())
    meta, tensors = json.loads(header["meta"]), load_file(str(src))
    edit(meta, tensors)
    save_file(tensors, str(dst), metadata={**header, "meta": json.dumps(meta)})
    return dst


def _set(path, value):
    def edit(meta, tensors):
        *parents, last = path.split(".")
        node = meta
        for p in parents:
            node = node[p]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value

    return edit


def _drop_tensor(name):
    return lambda meta, tensors: tensors.pop(name)


@pytest.mark.parametrize(
    "edit, message",
    [
        (_set("train_state.bogus", 1), "train_state has unknown field(s) bogus"),
        (_set("train_state.epoch", -1), "train_state epoch=-1 is not a whole number"),
        (_set("train_state.batch", "3"), "train_state batch='3' is not a whole number"),
        (_set("train_state.seconds", None), "train_state seconds=None is not a finite number"),
        (_set("train_state.history", {"epoch": 1}), "train_state history is not a list"),
        (_set("train_state.history", []), "train_state history holds 0 epochs, but epoch is 1"),
        (_set("train_state", [1]), "train_state is not a JSON object"),
        (_set("train_config", "fast"), "no run settings (train_config)"),
        (_set("optimizer", KeyError), "no optimizer settings"),
        (_set("optimizer.param_groups", [{"lr": 1}]), "optimizer param_groups are not lists of parameters"),
        (_set("optimizer.scalars", {"0/step": "x"}), "optimizer scalar '0/step'='x' is not a number"),
        (_drop_tensor("extra/torch_rng"), "no random generator state"),
    ],
)
def test_a_damaged_or_edited_resumable_checkpoint_is_refused_field_by_field(tmp_path, cli, edit, message):
    data = learnable_images(tmp_path / "data", n=8)
    first = train(config(tmp_path, data, epochs=1))
    bad = _edited(first["last"], tmp_path / "out" / "bad.last.safetensors", edit)
    res = cli("train", "--resume", bad, "--epochs", "2", "--cache-dir", tmp_path / "cache")
    assert res.exit_code == 2, res.output
    assert f"not a resumable checkpoint: {message}" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_a_disk_that_fills_up_stops_the_run_with_one_line_and_keeps_the_last_checkpoint(
    tmp_path, cli, monkeypatch
):
    import errno

    from bwcolor.files import cache
    from bwcolor.training import trainer

    data = learnable_images(tmp_path / "data", n=10)
    real, calls = trainer.save_checkpoint, []

    def fills_up(model, path, *args, **kwargs):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(model, path, *args, **kwargs)

    monkeypatch.setattr(trainer, "save_checkpoint", fills_up)
    out = tmp_path / "out" / "m.safetensors"
    res = cli("train", data, "-m", "baseline", "-o", out, "--crop-size", "32", "--batch-size", "4",
              "--epochs", "1", "--val-fraction", "0.3", "--cache-dir", tmp_path / "cache",
              "--checkpoint-minutes", "0")  # fmt: skip
    last = tmp_path / "out" / "m.last.safetensors"
    assert res.exit_code == 2, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("bwcolor: error:")]
    assert len(errors) == 1 and errors == res.stderr.strip().splitlines()[-1:], res.stderr
    assert (
        "No space left on device" in errors[0]
        and f"{last}, the resumable checkpoint saved before, is kept" in errors[0]
    )
    assert read_checkpoint(last)[0]["meta"]["train_state"]["batch"] == 1  # the one saved before
    monkeypatch.setattr(trainer, "save_checkpoint", real)
    assert train(resume=last)["history"][-1]["epoch"] == 1

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache, "write_atomic", no_space)
    res = cli("train", data, "-m", "baseline", "-o", tmp_path / "b", "--crop-size", "32",
              "--cache-dir", tmp_path / "c2")  # fmt: skip
    assert res.exit_code == 2 and "cannot write the image cache in" in res.stderr, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("bwcolor: error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0]


def test_a_photo_of_absurd_aspect_is_skipped_with_a_note_and_crops_stay_bounded(tmp_path, cli):
    data = learnable_images(tmp_path / "data", n=8)
    strip = np.random.default_rng(0).integers(0, 255, (1, 20000, 3), np.uint8)
    write(data / "strip.png", strip)
    res = cli("train", data, "-m", "baseline", "-o", tmp_path / "m.safetensors", "--crop-size", "32",
              "--batch-size", "4", "--epochs", "1", "--val-fraction", "0.25", "--cache-dir", tmp_path / "c")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "1 too thin" in res.stderr and "strip.png: 20000 x 1 pixels, thinner than 1:10" in res.stderr
    rng = np.random.default_rng(0)
    for shape in ((1, 20000, 3), (20000, 1, 3), (30, 290, 3)):  # whatever reaches a crop
        img = np.zeros(shape, np.uint8)
        assert dataset.center_crop(img, 32).shape == (32, 32, 3)
        assert dataset.random_resized_crop(img, 32, rng).shape == (32, 32, 3)
