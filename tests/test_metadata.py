"""Metadata: EXIF, ICC, DPI and XMP carried to every output format that holds them, plus provenance."""

import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from bwcolor.files.decode import read_image
from bwcolor.files.metadata import DIGITAL_SOURCE_TYPE, srgb_profile
from tests.conftest import gradient_rgb, gray_of

ARTIST, DATE_TAKEN = 0x013B, 0x9003
XMP_IN = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:source="Box 12, folder 3"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def rgb_profile() -> bytes:
    """An RGB profile that is not bwcolor's default sRGB one (header platform field changed)."""
    icc = bytearray(srgb_profile())
    icc[40:44] = b"APPL"
    return bytes(icc)


def exif_in() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated for display
    exif[ARTIST] = "J. Smith"
    exif[0x0131] = "ScanSoft 1.0"  # the scanner's software: replaced by the provenance
    exif[0x8769] = {DATE_TAKEN: "1931:05:02 10:00:00", 0xA002: 20, 0xA003: 30}
    return exif


def make_inputs(folder):
    folder.mkdir()
    sepia = gradient_rgb(20, 30) // 2 + np.array([60, 40, 20], np.uint8)  # toned RGB, 20x30
    gray = gray_of(gradient_rgb(20, 30))
    common = {"exif": exif_in().tobytes(), "dpi": (300, 300)}
    Image.fromarray(sepia).save(folder / "a.jpg", icc_profile=rgb_profile(), xmp=XMP_IN, **common)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP_IN.decode())
    Image.fromarray(sepia).save(folder / "b.png", icc_profile=rgb_profile(), pnginfo=info, **common)
    Image.fromarray(sepia).save(folder / "c.tif", icc_profile=rgb_profile(), **common)
    gray_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # not an RGB profile
    Image.fromarray(gray).save(folder / "d.webp", icc_profile=gray_icc, exif=common["exif"])
    Image.fromarray(gray).save(folder / "e.bmp", dpi=(300, 300))
    Image.fromarray(gray.astype(np.uint16) * 257).save(folder / "f.png", pnginfo=info, **common)  # 16-bit
    Image.fromarray(gray.astype(np.uint16) * 257).save(folder / "g.tif", **common)  # 16-bit gray TIFF


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, baseline_ckpt):
    from typer.testing import CliRunner

    from bwcolor.cli import app

    root = tmp_path_factory.mktemp("meta")
    make_inputs(root / "in")
    runner = CliRunner()
    for flag, name in (("--provenance", "out"), ("--no-provenance", "plain")):
        res = runner.invoke(
            app, ["colorize", str(root / "in"), "-o", str(root / name), "-m", str(baseline_ckpt), flag, "-q"]
        )
        assert res.exit_code == 0, res.output
    return root


def opened(path):
    im = Image.open(path)
    im.load()
    return im


def xmp_of(im) -> bytes:
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or getattr(im, "tag_v2", {}).get(700)
    return xmp.encode() if isinstance(xmp, str) else (xmp or b"")


@pytest.mark.parametrize("name", ["a.jpg", "b.png", "f.png"])
def test_exif_icc_dpi_and_xmp_are_carried(outputs, name):
    im = opened(outputs / "out" / name)
    exif = im.getexif()
    assert exif[ARTIST] == "J. Smith"
    assert exif.get_ifd(0x8769)[DATE_TAKEN] == "1931:05:02 10:00:00"
    assert 0xA002 not in exif.get_ifd(0x8769)  # pixel dimensions: dropped, not left stale
    assert exif[0x0112] == 1 and im.size == (20, 30)  # stored upright, orientation normalised
    assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert b'dc:source="Box 12, folder 3"' in xmp_of(im)
    if name != "f.png":  # the 16-bit gray PNG had no profile
        assert im.info["icc_profile"] == rgb_profile()


@pytest.mark.parametrize("name", ["a.jpg", "b.png", "c.tif", "d.webp", "f.png", "g.tif"])
def test_outputs_say_they_were_colorized_by_bwcolor(outputs, name):
    im = opened(outputs / "out" / name)
    xmp = xmp_of(im)
    assert DIGITAL_SOURCE_TYPE.encode() in xmp
    assert b"baseline (baseline.safetensors)" in xmp
    software = im.getexif().get(0x0131) if name[-3:] != "tif" else im.tag_v2.get(305)
    assert software.startswith("bwcolor ") and "baseline" in software
    plain = opened(outputs / "plain" / name)
    assert DIGITAL_SOURCE_TYPE.encode() not in xmp_of(plain)
    assert "bwcolor" not in str(plain.getexif().get(0x0131, ""))


def test_tiff_carries_profile_dpi_and_descriptive_tags(outputs):
    for name, dtype in (("c.tif", np.uint8), ("g.tif", np.uint16)):
        assert read_image(outputs / "out" / name).pixels.dtype == dtype
        im = opened(outputs / "out" / name)
        assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        assert im.tag_v2[ARTIST] == "J. Smith"
    assert opened(outputs / "out" / "c.tif").info["icc_profile"] == rgb_profile()


def test_a_tiff_without_a_resolution_does_not_come_out_claiming_one(tmp_path, cli, baseline_ckpt):
    """Pillow reports 1 dpi for a TIFF with no resolution tags; written as 1 dots per inch, a
    photo editor would show a print metres wide. No resolution in, none (unit NONE) out."""
    (tmp_path / "in").mkdir()
    Image.fromarray(gray_of(gradient_rgb(24, 40))).save(tmp_path / "in" / "scan.tif")
    assert 282 not in Image.open(tmp_path / "in" / "scan.tif").tag_v2
    written, _ = colorize_one(cli, tmp_path, tmp_path / "in" / "scan.tif", baseline_ckpt)
    assert opened(written).tag_v2.get(296, 1) == 1  # ResolutionUnit: none (not inch, not cm)


def test_a_profile_that_cannot_describe_rgb_is_replaced_by_srgb(outputs):
    im = opened(outputs / "out" / "d.webp")
    assert im.info["icc_profile"] == srgb_profile()
    assert im.getexif()[ARTIST] == "J. Smith"


def test_16bit_png_stays_16bit(outputs):
    assert read_image(outputs / "out" / "f.png").pixels.dtype == np.uint16


def test_bmp_keeps_its_resolution(outputs):
    assert opened(outputs / "out" / "e.bmp").info["dpi"] == pytest.approx((300, 300), abs=0.5)


def test_metadata_survives_a_format_change(tmp_path, cli, baseline_ckpt):
    make_inputs(tmp_path / "in")
    res = cli(
        "colorize", tmp_path / "in" / "a.jpg", "-o", tmp_path / "out", "-m", baseline_ckpt, "-f", "tif", "-q"
    )
    assert res.exit_code == 0, res.output
    im = opened(tmp_path / "out" / "a.tif")
    assert im.info["icc_profile"] == rgb_profile() and im.tag_v2[ARTIST] == "J. Smith"
    assert b'dc:source="Box 12, folder 3"' in xmp_of(im)


def test_damaged_exif_is_dropped_not_fatal(tmp_path, cli, baseline_ckpt):
    path = tmp_path / "in" / "x.jpg"
    path.parent.mkdir()
    Image.fromarray(gray_of(gradient_rgb(16, 16))).save(path, exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f")
    res = cli("colorize", path, "-o", tmp_path / "out", "-m", baseline_ckpt, "-q")
    assert res.exit_code == 0, res.output
    assert opened(tmp_path / "out" / "x.jpg").getexif()[0x0112] == 1


def colorize_one(cli, tmp_path, path, model, *extra):
    res = cli("colorize", path, "-o", tmp_path / "out", "-m", model, *extra)
    assert res.exit_code == 0, res.output
    (written,) = [p for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")]
    return written, res.stderr


def test_metadata_a_format_cannot_hold_is_shortened_and_the_picture_written(tmp_path, cli, baseline_ckpt):
    rgb = gradient_rgb(20, 30)
    cases = tmp_path / "in"
    cases.mkdir()
    import tifffile

    tifffile.imwrite(cases / "desc.tif", rgb, description=b"caf\xe9 au lait", metadata=None)  # Latin-1
    big_exif = Image.Exif()
    big_exif[0x010E] = "x" * 70_000  # ImageDescription: more than a JPEG segment holds
    Image.fromarray(rgb).save(cases / "bigexif.png", exif=big_exif.tobytes())
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP_IN.decode().replace("Box 12", "B" * 70_000))
    Image.fromarray(rgb).save(cases / "bigxmp.png", pnginfo=info)
    Image.fromarray(rgb).save(cases / "dpi.png", dpi=(60_000_000, 60_000_000))  # over BMP's field

    out, stderr = colorize_one(cli, tmp_path / "t", cases / "desc.tif", baseline_ckpt)
    assert Image.open(out).tag_v2[270] == "caf\\xe9 au lait"
    assert "ImageDescription: TIFF text tags hold ASCII only" in stderr
    out, stderr = colorize_one(cli, tmp_path / "e", cases / "bigexif.png", baseline_ckpt, "--format", "jpg")
    assert "EXIF (70," in stderr and "exceeds JPEG's 64 KB segment" in stderr
    assert Image.open(out).getexif()[0x0131].startswith("bwcolor")  # the provenance stays
    out, stderr = colorize_one(cli, tmp_path / "x", cases / "bigxmp.png", baseline_ckpt, "--format", "jpg")
    assert "XMP (70," in stderr and DIGITAL_SOURCE_TYPE.encode() in xmp_of(opened(out))
    out, stderr = colorize_one(cli, tmp_path / "d", cases / "dpi.png", baseline_ckpt, "--format", "bmp")
    assert "does not fit the bmp field" in stderr and opened(out).size == (30, 20)


def test_a_model_name_with_other_letters_is_escaped_in_tiff_and_exact_in_xmp(tmp_path, cli, baseline_ckpt):
    model = tmp_path / "mod\xe8le.safetensors"
    model.write_bytes(baseline_ckpt.read_bytes())
    Image.fromarray(gradient_rgb(20, 30)).save(tmp_path / "a.tif")
    out, stderr = colorize_one(cli, tmp_path, tmp_path / "a.tif", model)
    im = opened(out)
    assert "mod\\xe8le.safetensors" in im.tag_v2[305]
    assert "mod\xe8le.safetensors".encode() in xmp_of(im)


def test_metadata_that_fails_in_an_unforeseen_way_is_left_out_not_the_picture(tmp_path):
    from bwcolor.files.metadata import Metadata
    from bwcolor.files.pixels import Picture
    from bwcolor.pipeline import jobs, photos

    class Unwritable(Metadata):
        def exif_bytes(self) -> bytes:
            raise ValueError("an EXIF value nothing foresaw")

    meta = Unwritable(dpi=(300.0, 300.0), provenance="bwcolor test")
    picture = Picture(gradient_rgb(20, 30), None, "png", [], meta)
    item = photos._Decoded(jobs.Job(tmp_path / "a.png", tmp_path / "out" / "a.png"), picture, True, None)
    result = photos._encode(
        item, np.zeros((8, 12, 2), np.float32), jobs.Options(out_dir=tmp_path / "out"), None, None
    )
    assert result.status == "done" and Image.open(tmp_path / "out" / "a.png").size == (30, 20)
    assert any("metadata could not be written" in n for n in result.notes)
