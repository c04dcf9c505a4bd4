"""Films that are odd but valid, or hostile: each is colorized or refused alone, in one line,
with its timing, and never taken for another file (round 3 of docs/reliability.md)."""

import json
from fractions import Fraction

import numpy as np
import pytest

from bwcolor.quality.synthetic import _write_tone
from tests.conftest import tree_hashes

av = pytest.importorskip("av")

FRAMES = [np.full((48, 64, 3), (40 + 15 * i) % 255, np.uint8) for i in range(12)]


def _frame(rgb, pts=None, time_base=None):
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    if pts is not None:
        frame.pts, frame.time_base = pts, time_base
    return frame


def _video(out, fps=12, **options):
    stream = out.add_stream("libx264", rate=fps, options={"bf": "0", **options})
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    return stream


def film(path, sound=None, sound_seconds=1.0, fmt=None, title=None, encoding="utf-8", frames=FRAMES):
    """A 12-frame film at 12 fps (``sound``: a sound track of that codec)."""
    with av.open(str(path), "w", format=fmt, metadata_encoding=encoding) as out:
        if title:
            out.metadata["title"] = title
        video = _video(out)
        audio = out.add_stream(sound, rate=48000) if sound else None
        for rgb in frames:
            out.mux(video.encode(_frame(rgb)))
        out.mux(video.encode(None))
        if audio is not None:
            _write_tone(out, audio, sound_seconds)
    return path


def edited(path):
    """An MP4 trimmed by an edit list: 30 frames stored, the first 10 before the edit (not shown)."""
    with av.open(str(path), "w") as out:
        video = _video(out, fps=10)
        video.codec_context.time_base = Fraction(1, 10)
        for i in range(30):
            out.mux(video.encode(_frame(FRAMES[i % 12], i - 10, Fraction(1, 10))))
        out.mux(video.encode(None))
    return path


def held(path):
    """A variable-frame-rate MP4 whose last frame is held: 12 frames in 1.1 s, then 8.9 s of it."""
    with av.open(str(path), "w") as out:
        video = _video(out, fps=10)
        video.codec_context.time_base = Fraction(1, 1000)
        packets = [
            p for i, rgb in enumerate(FRAMES) for p in video.encode(_frame(rgb, i * 100, Fraction(1, 1000)))
        ]
        packets += video.encode(None)
        packets[-1].duration = 8900
        for packet in packets:
            out.mux(packet)
    return path


def two_pictures(path):
    """An MP4 whose first video stream is a one-frame still, the second the 12-frame film."""
    with av.open(str(path), "w") as out:
        still, video = _video(out), _video(out)
        out.mux(still.encode(_frame(FRAMES[0])))
        out.mux(still.encode(None))
        for rgb in FRAMES:
            out.mux(video.encode(_frame(rgb)))
        out.mux(video.encode(None))
    return path


def timing(path, stream=None):
    with av.open("file:" + str(path), metadata_errors="replace") as c:
        video = (
            c.streams.video[stream] if stream is not None else max(c.streams.video, key=lambda v: v.frames)
        )
        pts = [f.pts * video.time_base for f in c.decode(video)]
        return pts, len(c.streams.audio), len(c.streams.video)


def test_odd_but_valid_films_are_colorized_with_their_timing_and_sound(tmp_path, cli, baseline_ckpt):
    src = tmp_path / "in"
    src.mkdir()
    film(src / "aac.webm", "aac", fmt="matroska")  # Matroska films named .webm
    film(src / "flac.webm", "flac", fmt="matroska")
    film(src / "long_sound.mkv", "libopus", sound_seconds=4.0)  # sound runs on past the picture
    raw = film(tmp_path / "aac.mkv", "aac").read_bytes()
    (src / "unknown_sound.mkv").write_bytes(raw.replace(b"A_AAC", b"A_QQQ"))  # a codec FFmpeg lacks
    film(src / "latin.avi", title="Caf\u00e9 \u00e0 Paris", encoding="latin-1")  # an old AVI's tag
    edited(src / "edited.mp4")
    held(src / "held.mp4")
    two_pictures(src / "two.mp4")
    before = tree_hashes(src)
    res = cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["done"] == 8 and "Traceback" not in res.output
    for note in (
        "aac.webm: written as Matroska, as the input is: WebM cannot hold aac sound",
        "flac.webm: written as Matroska",
        "unknown_sound.mkv: sound track 1 not carried: its codec is unknown to FFmpeg",
        "two.mp4: 1 other video stream(s) not carried",
    ):
        assert note in res.stderr, res.stderr
    for name in ("aac.webm", "flac.webm", "long_sound.mkv", "latin.avi", "edited.mp4", "held.mp4", "two.mp4"):
        pts, sounds, _ = timing(src / name)
        out_pts, out_sounds, out_pictures = timing(tmp_path / "out" / name)
        assert out_pts == pts and out_sounds == sounds and out_pictures == 1, name
    assert timing(tmp_path / "out" / "unknown_sound.mkv")[1] == 0
    assert len(timing(src / "edited.mp4")[0]) == 20  # the frames shown, not the 30 stored
    assert tree_hashes(src) == before


def test_file_names_are_files_never_urls(tmp_path, cli, baseline_ckpt):
    src = tmp_path / "in"
    src.mkdir()
    film(src / "Take:1.mp4")
    film(src / "other.mp4", frames=FRAMES[:6])
    film(src / "file:other.mp4", frames=FRAMES[:9])  # FFmpeg would read other.mp4 for this name
    res = cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt, "--json")
    assert res.exit_code == 0, res.output
    counts = {p.name: len(timing(p)[0]) for p in (tmp_path / "out").iterdir()}
    assert counts == {"Take:1.mp4": 12, "other.mp4": 6, "file:other.mp4": 9}


def test_max_pixels_applies_to_film_frames_before_decoding(tmp_path, cli, baseline_ckpt):
    (tmp_path / "in").mkdir()
    film(tmp_path / "in" / "f.mp4")
    res = cli(
        "colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt, "--max-pixels", "3000"
    )
    assert res.exit_code == 1, res.output
    assert "f.mp4: frames of 64 x 48 pixels exceed --max-pixels 3000" in res.stderr
    assert not (tmp_path / "out" / "f.mp4").exists()


def test_a_film_written_meanwhile_by_another_run_is_kept(tmp_path, baseline_ckpt):
    from bwcolor import load_model
    from bwcolor.files.atomic import AppearedMeanwhile
    from bwcolor.pipeline.films import colorize_video

    src = film(tmp_path / "f.mp4")
    dst = tmp_path / "out" / "f.mp4"

    def other_run_finishes(n):
        if not dst.exists():
            dst.parent.mkdir(exist_ok=True)
            dst.write_bytes(b"the other run's film")

    with pytest.raises(AppearedMeanwhile):
        colorize_video(load_model(baseline_ckpt), src, dst, overwrite=False, on_frames=other_run_finishes)
    assert dst.read_bytes() == b"the other run's film"
    assert [p.name for p in dst.parent.iterdir()] == ["f.mp4"]  # no temporary file left
    colorize_video(load_model(baseline_ckpt), src, dst, overwrite=True, on_frames=other_run_finishes)
    assert len(timing(dst)[0]) == 12  # --overwrite replaces it
