"""One run over every kind of file an archive holds: what can be colorized is, the rest gets one
clear line each, the batch goes on, and no input changes."""

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bwcolor.files.decode import read_image
from tests.conftest import deny_reading_as_root, gradient_rgb, gray_of, tree_hashes, write

H, W = 24, 40


def png_bomb(path: Path, side: int = 100_000) -> None:
    """A valid PNG header declaring side x side pixels, with a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def make_corpus(src: Path) -> tuple[dict[str, tuple], dict[str, str]]:
    """Good files (name -> (dtype, has alpha)) and bad ones (name -> expected cause)."""
    rgb = gradient_rgb(H, W)
    gray = gray_of(rgb)
    good = {}

    def ok(name, dtype=np.uint8, alpha=False):
        good[name] = (dtype, alpha)

    for ext in ("png", "tif"):
        write(src / ext / f"gray8.{ext}", gray), ok(f"{ext}/gray8.{ext}")
        write(src / ext / f"gray16.{ext}", gray.astype(np.uint16) * 257), ok(f"{ext}/gray16.{ext}", np.uint16)
        write(src / ext / f"rgb8.{ext}", rgb), ok(f"{ext}/rgb8.{ext}")
        write(src / ext / f"rgb16.{ext}", rgb.astype(np.uint16) * 257), ok(f"{ext}/rgb16.{ext}", np.uint16)
        (
            write(src / ext / f"alpha.{ext}", np.dstack([gray] * 3 + [gray[::-1]])),
            ok(f"{ext}/alpha.{ext}", alpha=True),
        )
    import tifffile

    tifffile.imwrite(
        src / "tif" / "deflate16.tif", rgb.astype(np.uint16) * 257, photometric="rgb", compression="zlib"
    )
    ok("tif/deflate16.tif", np.uint16)  # read by tifffile (the LZW ones above by OpenCV)
    (
        Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(src / "palette.png"),
        ok("palette.png"),
    )
    Image.fromarray(rgb).convert("CMYK").save(src / "cmyk.jpg"), ok("cmyk.jpg")
    Image.fromarray(gray).save(src / "progressive.jpg", progressive=True), ok("progressive.jpg")
    pages = [Image.fromarray(gray), Image.fromarray(gray[::-1])]
    pages[0].save(src / "pages.tif", save_all=True, append_images=pages[1:]), ok("pages.tif")
    Image.fromarray(gray).save(src / "webp.webp"), ok("webp.webp")
    Image.fromarray(gray).save(src / "bmp.bmp"), ok("bmp.bmp")
    (
        write(src / "folder.jpg" / "inside.png", gray),
        ok("folder.jpg/inside.png"),
    )  # a folder named like an image
    write(src / ("n" * 240 + ".png"), gray), ok("n" * 240 + ".png")  # 244-byte name
    latin1 = os.fsdecode(b"caf\xe9.png")  # not UTF-8
    (
        (src / latin1).write_bytes((src / "png" / "gray8.png").read_bytes()),
        ok(latin1),
    )  # (OpenCV crashes on such paths)
    write(src / "same.jpg", gray), ok("same.png")  # the first of a collision under --format png
    (src / "loop").symlink_to(".", target_is_directory=True)  # a symlink loop in the tree
    write(src.parent / "elsewhere" / "linked.png", gray)
    (src / "linked").symlink_to(src.parent / "elsewhere", target_is_directory=True)
    ok("linked/linked.png")

    bad = {}
    (src / "empty.jpg").write_bytes(b"")
    bad["empty.jpg"] = "empty file"
    jpeg = write(src.parent / "full.jpg", gray_of(gradient_rgb(200, 200))).read_bytes()
    (src / "cutjpg.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    bad["cutjpg.jpg"] = "truncated"
    png = write(src.parent / "full.png", gradient_rgb(200, 200)).read_bytes()
    (src / "cutpng.png").write_bytes(png[: len(png) // 2])
    bad["cutpng.png"] = "truncated"
    (src / os.fsdecode(b"br\xfbl\xe9.jpg")).write_bytes(b"\xff\xd8 burnt")  # non-UTF-8 and broken
    bad["br\\xfbl\\xe9.jpg"] = "not a supported image"  # shown with the undecodable bytes escaped
    (src / "notes.jpg").write_text("scanned by the archive, box 3\n")
    bad["notes.jpg"] = "not a supported image"
    (src / "report.jpg").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
    bad["report.jpg"] = "not a supported image"
    png_bomb(src / "bomb.png")
    bad["bomb.png"] = "exceeds the limit"
    (src / "gone.jpg").symlink_to(src / "deleted-long-ago.jpg")
    bad["gone.jpg"] = "broken symbolic link"
    write(src / "locked.png", gray)
    bad["locked.png"] = "permission denied"
    write(src / "same.png", gray)
    bad["same.png"] = "same output name"
    return good, bad


def test_every_hostile_input_in_one_run(tmp_path, cli, baseline_ckpt, monkeypatch):
    src = tmp_path / "in"
    good, bad = make_corpus(src)
    before = tree_hashes(src)
    os.chmod(src / "locked.png", 0)
    deny_reading_as_root(monkeypatch, "locked.png")
    res = cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt, "--format", "png")
    os.chmod(src / "locked.png", 0o644)
    assert res.exit_code == 1 and "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("bwcolor: error:")]
    for name, cause in bad.items():
        assert any(name in ln and cause in ln for ln in errors), (name, cause, res.stderr)
    assert len(errors) == len(bad), res.stderr
    assert "pages.tif: has 2 pages" in res.stderr
    out = tmp_path / "out"
    for name, (dtype, alpha) in good.items():
        picture = read_image(out / Path(name).with_suffix(".png"))
        assert picture.pixels.shape == (H, W, 3) and picture.pixels.dtype == dtype, name
        assert (picture.alpha is not None) == alpha, name
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == {str(Path(n).with_suffix(".png")) for n in good}  # nothing else, nothing half-written
    assert tree_hashes(src) == before  # no input touched


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_every_orientation_comes_out_upright(tmp_path, cli, baseline_ckpt, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(gray_of(gradient_rgb(H, W))).save(tmp_path / "x.jpg", exif=exif)
    res = cli("colorize", tmp_path / "x.jpg", "-o", tmp_path / "out", "-m", baseline_ckpt, "-q")
    assert res.exit_code == 0
    upright = (W, H) if orientation >= 5 else (H, W)
    assert read_image(tmp_path / "out" / "x.jpg").pixels.shape[:2] == upright


def test_only_the_listed_formats_are_decoded_whatever_the_content(tmp_path, cli, baseline_ckpt):
    """A PostScript file named .jpg never reaches Ghostscript; a GIF named .png is not read."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "scan.jpg").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    Image.fromarray(gradient_rgb(H, W)).save(src / "anim.png", format="GIF")
    Image.fromarray(gradient_rgb(H, W)).save(src / "ok.png")
    res = cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt)
    assert res.exit_code == 1
    for name in ("scan.jpg", "anim.png"):
        assert f"{name}: not a supported image" in res.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ok.png"]


def test_control_characters_in_file_names_are_escaped(tmp_path, cli, baseline_ckpt):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a\nbwcolor: error: forged.jpg").write_bytes(b"broken")
    (src / "b\x1b[2J.jpg").write_bytes(b"broken")
    res = cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt)
    assert res.exit_code == 1
    lines = res.stderr.splitlines()
    assert sum("forged" in ln for ln in lines) == 1 and "a\\nbwcolor: error: forged.jpg" in res.stderr
    assert "\x1b" not in res.stderr and "b\\x1b[2J.jpg" in res.stderr
    as_json = cli("colorize", src, "-o", tmp_path / "out", "-m", baseline_ckpt, "--json", "-q")
    import json

    files = {f["file"] for f in json.loads(as_json.stdout)["failures"]}
    assert str(src / "b\x1b[2J.jpg") in files  # JSON stays JSON: the exact name, escaped by JSON


def test_pillows_own_bomb_limit_is_neither_changed_nor_relied_on(tmp_path, monkeypatch):
    import subprocess
    import sys

    code = (
        "import os; calls = []; real = os.umask; os.umask = lambda m: calls.append(m) or real(m)\n"
        "from PIL import Image; before = Image.MAX_IMAGE_PIXELS\n"
        "import bwcolor, bwcolor.cli, bwcolor.files.decode, bwcolor.files.encode, bwcolor.pipeline.photos, bwcolor.training.trainer\n"
        "print(calls, Image.MAX_IMAGE_PIXELS == before)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] True"  # importing bwcolor changes neither
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # to Pillow, 40x24 is now a bomb
    path = write(tmp_path / "a.png", gradient_rgb(H, W))
    assert read_image(path).pixels.shape == (H, W, 3)  # bwcolor's own limit applies
    with pytest.raises(Exception, match="exceeds the limit of 100"):
        read_image(path, max_pixels=100)


def test_outputs_get_the_umask_mode_without_the_umask_changing(tmp_path):
    from bwcolor.files.atomic import write_atomic

    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "f.bin", b"x")
        assert os.umask(0o027) == 0o027  # unchanged by the write
    finally:
        os.umask(old)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("shape", [(H, W), (H, W, 3)])
@pytest.mark.parametrize("top", [1.0, 255.0, 65535.0])
def test_float_tiffs_in_any_range_keep_their_lightness(tmp_path, cli, baseline_ckpt, shape, top):
    import tifffile

    gray = gray_of(gradient_rgb(H, W)).astype(np.float32) / 255  # levels 0-1
    levels = gray if len(shape) == 2 else np.dstack([gray] * 3)
    (tmp_path / "in").mkdir()
    photometric = "rgb" if len(shape) == 3 else "minisblack"
    tifffile.imwrite(tmp_path / "in" / "f.tif", (levels * top).astype(np.float32), photometric=photometric)
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", baseline_ckpt)
    assert res.exit_code == 0, res.output
    from bwcolor.files.pixels import to_float
    from bwcolor.lab import gray_to_lightness, rgb_to_lab

    out = to_float(read_image(tmp_path / "out" / "f.tif").pixels)
    lightness = rgb_to_lab(out)[..., 0]
    assert abs(lightness.mean() - gray_to_lightness(gray).mean()) < 2  # the input's, not washed out
    assert ("read as levels from 0 to" in res.stderr) == (top > 1)
