"""Videos: `bwcolor colorize` on films (container, timing, sound, provenance kept; bad input one
line; nothing partial left), and colours that hold still (:mod:`bwcolor.pipeline.temporal`) measured on
generated clips whose true motion and colours are known."""

import json
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from bwcolor import lab
from bwcolor.errors import UsageError
from bwcolor.pipeline.temporal import Stabiliser, flicker
from bwcolor.quality.synthetic import pan, write_clip, zoom
from tests.conftest import gradient_rgb, gray_of, tree_hashes, write


def photo(seed: int, h: int = 120, w: int = 200) -> np.ndarray:
    """A colourful photo with edges: gradients and a few coloured discs."""
    img = gradient_rgb(h, w, seed)
    rng = np.random.default_rng(seed)
    for _ in range(6):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.circle(img, centre, int(rng.integers(8, 25)), colour, -1)
    return img


def lab_frames(frames):
    return [lab.rgb_to_lab(f.astype(np.float32) / 255) for f in frames]


def smooth_noise(rng, h, w, amplitude):
    """Per-frame colour error of a network: blotches, smooth in space, new in every frame."""
    coarse = rng.normal(0, amplitude, (4, 6, 2)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def stabilised(frames_lab, predictions, carry=0.85):
    stab = Stabiliser(carry)
    return [stab.step(f[..., 0], p) for f, p in zip(frames_lab, predictions, strict=True)]


@pytest.mark.parametrize("kind", ["pan", "zoom"])
def test_stabilising_halves_flicker_without_losing_accuracy(kind):
    """Predictions = true colour + blotches that change every frame: the stabilised colour
    flickers less than half as much, along the true motion, and is no further from the truth."""
    src = photo(1, 160, 280)
    clip = pan(src, (72, 128), 24, step=2.0) if kind == "pan" else zoom(src, (72, 128), 24, rate=1.02)
    truth = lab_frames(clip.frames)
    rng = np.random.default_rng(0)
    predictions = [t[..., 1:] + smooth_noise(rng, 72, 128, 8.0) for t in truth]
    steps = stabilised(truth, predictions)
    assert steps[0].cut and not any(s.cut for s in steps[1:])

    def mean_flicker(abs_):
        return np.mean([flicker(abs_[t], abs_[t - 1], clip.flows[t]) for t in range(1, len(abs_))])

    per_frame, steady = mean_flicker(predictions), mean_flicker([s.ab for s in steps])
    assert steady < 0.5 * per_frame, (steady, per_frame)
    error = [np.linalg.norm(p - t[..., 1:], axis=-1).mean() for p, t in zip(predictions, truth, strict=True)]
    error_steady = [
        np.linalg.norm(s.ab - t[..., 1:], axis=-1).mean() for s, t in zip(steps, truth, strict=True)
    ]
    assert np.mean(error_steady) <= np.mean(error) + 0.2


def test_the_flicker_metric_is_zero_for_colour_that_follows_the_true_motion():
    clip = pan(photo(2, 100, 220), (60, 100), 4, step=3.0)
    truth = lab_frames(clip.frames)
    assert flicker(truth[2][..., 1:], truth[1][..., 1:], clip.flows[2]) < 0.5
    still = np.zeros_like(clip.flows[2])  # the wrong motion: the colours seem to jump
    assert flicker(truth[2][..., 1:], truth[1][..., 1:], still) > 2.0


def test_the_estimated_motion_is_close_to_the_true_one_where_it_is_trusted():
    from bwcolor.pipeline.temporal import reliable_flow

    clip = zoom(photo(11, 160, 280), (90, 160), 2, rate=1.03)
    truth = lab_frames(clip.frames)
    flow, trusted = reliable_flow(truth[1][..., 0], truth[0][..., 0])
    assert trusted.mean() > 0.5
    assert np.linalg.norm(flow - clip.flows[1], axis=-1)[trusted].mean() < 0.5


def test_a_scene_cut_carries_no_colour_into_the_next_shot():
    clip = pan(photo(3), (64, 96), 8) + pan(photo(4), (64, 96), 8)
    truth = lab_frames(clip.frames)
    rng = np.random.default_rng(1)
    predictions = [t[..., 1:] + smooth_noise(rng, 64, 96, 5.0) for t in truth]
    steps = stabilised(truth, predictions, carry=0.9)
    assert [i for i, s in enumerate(steps) if s.cut] == [0, 8]
    assert np.array_equal(steps[8].ab, predictions[8])  # the new shot's own colour, nothing carried
    assert steps[9].carried > 0.5  # and within the shot, colour follows again


def test_colour_is_not_carried_onto_what_comes_into_view():
    clip = pan(photo(5, 80, 300), (64, 96), 3, step=6.0)
    truth = lab_frames(clip.frames)
    predictions = [t[..., 1:] + 10.0 * (i == 2) for i, t in enumerate(truth)]
    last = stabilised(truth, predictions)[-1]
    # the last 6 columns were not in the previous frame: the prediction alone
    assert np.allclose(last.ab[:, -5:], predictions[2][:, -5:], atol=1e-4)


@pytest.fixture
def film(tmp_path):
    """A 2-second colour clip with sound: a pan, a cut, then a zoom."""
    clip = pan(photo(6, 140, 260), (72, 128), 24, 2.0) + zoom(photo(7, 140, 260), (72, 128), 24, 1.02)
    return write_clip(tmp_path / "in" / "film.mp4", clip.frames, fps=24, tone=True)


def audio_packets(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def video_timing(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        pts = [f.pts * s.time_base for f in c.decode(s)]
        return (s.codec_context.width, s.codec_context.height), pts, s.average_rate


def test_colorize_a_film_keeps_its_frames_timing_size_and_sound(tmp_path, cli, baseline_ckpt, film):
    write(tmp_path / "in" / "photo.png", gray_of(gradient_rgb(40, 60)))
    before = tree_hashes(tmp_path / "in")
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt, "--json", "-q")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["done"], summary["videos"], summary["frames"]) == (2, 1, 48)
    out = tmp_path / "out" / "film.mp4"
    assert video_timing(out) == video_timing(film)
    assert audio_packets(out) == audio_packets(film)  # the sound copied, not re-encoded
    with av.open(str(out)) as c:
        assert c.metadata["comment"].startswith("bwcolor ") and "baseline" in c.metadata["comment"]
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert lab.rgb_to_lab(first.astype(np.float32) / 255)[..., 1:].std() > 1.0  # colour, not gray
    assert tree_hashes(tmp_path / "in") == before
    again = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt, "--json", "-q")
    assert json.loads(again.stdout)["skipped"] == 2  # a rerun skips the finished video


@pytest.mark.parametrize("suffix", [".webm", ".mkv", ".avi", ".mov"])
def test_every_container_round_trips(tmp_path, baseline_ckpt, suffix):
    from bwcolor import colorize_video, load_model

    frames = pan(photo(8, 80, 160), (48, 64), 6, 2.0).frames
    src = write_clip(tmp_path / f"clip{suffix}", frames, fps=12, tone=suffix != ".avi")
    result = colorize_video(load_model(baseline_ckpt), src, tmp_path / "out" / src.name)
    assert result.frames == 6
    size, pts, _ = video_timing(tmp_path / "out" / src.name)
    assert size == (64, 48) and pts == video_timing(src)[1]  # in order, and not a frame late


def test_variable_frame_rate_is_kept_as_the_container_says(tmp_path, baseline_ckpt):
    from bwcolor import colorize_video, load_model

    src = tmp_path / "vfr.mkv"
    stamps = [0, 40, 100, 120, 260, 300, 310]  # milliseconds: a phone's uneven frames
    with av.open(str(src), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"crf": "20"})
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, t in enumerate(stamps):
            f = av.VideoFrame.from_ndarray(photo(i, 48, 64), format="rgb24")
            f.pts, f.time_base = t, Fraction(1, 1000)
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    colorize_video(load_model(baseline_ckpt), src, tmp_path / "out.mkv")
    assert video_timing(tmp_path / "out.mkv")[1] == video_timing(src)[1]
    assert [float(t) for t in video_timing(src)[1]] == [t / 1000 for t in stamps]


def test_an_odd_sized_film_keeps_its_size(tmp_path, baseline_ckpt):
    from bwcolor import colorize_video, load_model

    src = write_clip(tmp_path / "odd.mp4", [photo(i, 45, 63) for i in range(3)], fps=10)
    colorize_video(load_model(baseline_ckpt), src, tmp_path / "out.mp4")
    assert video_timing(tmp_path / "out.mp4")[0] == (63, 45)


def bad_videos(folder, film):
    folder.mkdir(parents=True)
    data = film.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])  # mp4: the index is at the end
    mkv = write_clip(folder / "cut.mkv", pan(photo(9, 80, 200), (48, 64), 48, 1.0).frames, fps=24)
    mkv.write_bytes(mkv.read_bytes()[: mkv.stat().st_size // 2])  # matroska: the frames stop early
    (folder / "text.mov").write_bytes(b"these are not the frames you are looking for")
    (folder / "empty.webm").write_bytes(b"")
    with av.open(str(folder / "sound_only.mkv"), "w") as out:  # no video stream
        a = out.add_stream("libopus", rate=48000)
        samples = np.zeros((1, 960), np.float32)
        for i in range(5):
            f = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            f.sample_rate, f.pts, f.time_base = 48000, i * 960, Fraction(1, 48000)
            out.mux(a.encode(f))
        out.mux(a.encode(None))
    with av.open(str(folder / "no_frames.mkv"), "w") as out:  # a video stream without frames
        s = out.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()  # the header, then no frame at all
    avi = write_clip(folder / "codec.avi", [photo(0, 48, 64)] * 3, fps=10)
    raw = avi.read_bytes()  # an H.264 AVI whose codec tag names no codec FFmpeg knows
    avi.write_bytes(raw.replace(b"H264", b"ZQ9X").replace(b"h264", b"zq9x"))


def test_bad_videos_are_one_line_each_and_the_batch_goes_on(tmp_path, cli, baseline_ckpt, film):
    bad_videos(tmp_path / "bad", film)
    film.rename(tmp_path / "bad" / "good.mp4")
    res = cli("colorize", tmp_path / "bad", "-o", tmp_path / "out", "-m", baseline_ckpt)
    assert res.exit_code == 1 and "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("bwcolor: error:")]
    expected = {
        "truncated.mp4": "not a readable video",
        "cut.mkv": "truncated or damaged",
        "text.mov": "not a readable video",
        "empty.webm": "not a readable video",
        "sound_only.mkv": "no video stream",
        "no_frames.mkv": "ends before its first frame",
        "codec.avi": "codec",
    }
    for name, cause in expected.items():
        assert any(name in ln and cause in ln for ln in errors), (name, cause, res.stderr)
    assert len(errors) == len(expected), res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.mp4"]  # nothing partial


def test_a_stop_abandons_the_video_and_leaves_nothing(tmp_path, baseline_ckpt, film):
    import threading

    from bwcolor import colorize_paths

    stop = threading.Event()
    seen = []

    def on_frames(n):
        seen.append(n)
        if len(seen) == 10:
            stop.set()

    summary = colorize_paths([film], tmp_path / "out", baseline_ckpt, on_frames=on_frames, stop=stop)
    assert summary.interrupted and summary.done == 0 and summary.failed == 0
    assert 10 <= len(seen) < 48
    assert not list((tmp_path / "out").iterdir())  # no partial video, no temporary file


def test_sigint_removes_the_partial_video_and_exits_130(tmp_path, baseline_ckpt):
    import os
    import signal
    import subprocess
    import sys
    import time

    clip = pan(photo(10, 200, 1200), (360, 640), 240, 3.0).frames
    src = write_clip(tmp_path / "long.mp4", clip, fps=24, crf=30)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bwcolor", "colorize", str(src), "-o", str(out), "-m", str(baseline_ckpt)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(out.iterdir())):
        time.sleep(0.05)  # the temporary video appears: frames are being written
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert not any(out.iterdir())


def test_a_4k_film_is_streamed_in_bounded_memory(tmp_path, baseline_ckpt):
    import tracemalloc

    from bwcolor import colorize_video, load_model

    frames = [cv2.resize(photo(i, 108, 192), (3840, 2160)) for i in range(10)]
    src = write_clip(tmp_path / "uhd.mp4", frames, fps=24, crf=35)
    del frames
    model = load_model(baseline_ckpt)
    tracemalloc.start()
    result = colorize_video(model, src, tmp_path / "out.mp4")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    frame_bytes = 3840 * 2160 * 3
    assert result.frames == 10
    assert peak < 8 * frame_bytes, peak / frame_bytes  # a few frames in flight, never the film


def test_colorize_video_refuses_to_replace_its_input(tmp_path, baseline_ckpt):
    from bwcolor import colorize_video, load_model

    src = write_clip(tmp_path / "film.mp4", [photo(i, 48, 64) for i in range(3)], fps=10)
    (tmp_path / "link.mp4").symlink_to(src)
    before = src.read_bytes()
    for dst in (src, tmp_path / "." / "film.mp4", tmp_path / "link.mp4"):
        with pytest.raises(UsageError, match="would replace the input film"):
            colorize_video(load_model(baseline_ckpt), src, dst)
    assert src.read_bytes() == before


def test_a_stretch_of_a_film_with_its_sound(tmp_path, cli, baseline_ckpt, film):
    """--start/--duration: the frames and the sound of that stretch, starting at 0."""
    res = cli("colorize", film, "-o", tmp_path / "out", "-m", baseline_ckpt, "--start", "0.5", "--duration", "1",
              "--json", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["frames"] == 24
    _, pts, rate = video_timing(tmp_path / "out" / "film.mp4")
    _, whole, _ = video_timing(film)
    assert len(pts) == 24 and rate == 24 and pts[0] == whole[0]  # starts where the film does
    with av.open(str(tmp_path / "out" / "film.mp4")) as c:
        sound = [p for p in c.demux(c.streams.audio[0]) if p.size]
        ends = [float((p.pts + p.duration) * p.time_base) for p in sound]
    assert 0.95 <= max(ends) <= 1.1 and min(float(p.pts * p.time_base) for p in sound) < 0.05
    res = cli("colorize", film, "-o", tmp_path / "late", "-m", baseline_ckpt, "--start", "30")
    assert res.exit_code == 1 and "the film ends before it" in res.output
    assert not [p for p in (tmp_path / "late").rglob("*") if p.is_file()]  # nothing written


def test_codecs_and_quality(tmp_path, baseline_ckpt):
    """--codec: H.265 and VP9 are what they say; FFV1 is lossless (the first frame is exactly the
    colorized photo); --crf trades size for quality; impossible pairs are refused first."""
    from bwcolor import colorize_image, colorize_video, load_model
    from bwcolor.pipeline.jobs import FilmOptions

    model = load_model(baseline_ckpt)
    frames = pan(photo(8, 80, 160), (48, 64), 6, 2.0).frames
    src = write_clip(tmp_path / "clip.mp4", frames, fps=12)
    for name, suffix, codec in (("h265", ".mp4", "hevc"), ("vp9", ".mkv", "vp9"), ("ffv1", ".mkv", "ffv1")):
        out = tmp_path / f"{name}{suffix}"
        assert colorize_video(model, src, out, film=FilmOptions(codec=name)).frames == 6
        with av.open(str(out)) as c:
            assert c.streams.video[0].codec_context.name == codec
            first = next(c.decode(video=0)).to_ndarray(format="rgb24")
        if name == "ffv1":
            with av.open(str(src)) as c:
                gray = next(c.decode(video=0)).to_ndarray(format="rgb24")
            np.testing.assert_array_equal(first, colorize_image(model, gray))
    sizes = {}
    for crf in (12, 40):
        out = tmp_path / f"crf{crf}.mp4"
        colorize_video(model, src, out, film=FilmOptions(crf=crf))
        sizes[crf] = out.stat().st_size
    assert sizes[40] < sizes[12]
    for film, cause in (
        (FilmOptions(codec="vp9"), "a avi file cannot hold it"),
        (FilmOptions(codec="ffv1", crf=10), "ffv1 is lossless"),
        (FilmOptions(codec="av1"), "--codec must be one of"),
    ):
        with pytest.raises(UsageError, match=cause):
            colorize_video(model, src, tmp_path / "x.avi", film=film)


def test_a_codec_the_container_cannot_hold_is_refused_before_any_film_is_read(
    tmp_path, cli, baseline_ckpt, film
):
    res = cli("colorize", film, "-o", tmp_path / "out", "-m", baseline_ckpt, "--codec", "ffv1")
    assert res.exit_code == 2 and "--codec ffv1: a mp4 file cannot hold it (use matroska, avi)" in res.output
    assert not (tmp_path / "out").exists()
