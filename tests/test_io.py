import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from bwcolor.errors import ImageError
from bwcolor.files.decode import apply_orientation, decode_image, read_image
from bwcolor.files.encode import encode_image
from bwcolor.files.formats import output_path
from tests.conftest import gradient_rgb, write


def jpeg_bytes(pixels, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", **kw)
    return buf.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(orientation):
    rgb = gradient_rgb(24, 40)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = jpeg_bytes(rgb, exif=exif, quality=100)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert np.array_equal(decode_image(data).pixels, expected)


def _oriented_file(fmt: str, pixels: np.ndarray, orientation: int) -> bytes:
    """``pixels`` stored as they are, with an EXIF/TIFF Orientation tag that says how to show them."""
    buf = io.BytesIO()
    if fmt == "tiff":
        import tifffile

        tifffile.imwrite(buf, pixels, extratags=[(0x0112, "H", 1, orientation, True)])
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(pixels).save(
            buf, fmt.upper(), exif=exif, **({"lossless": True} if fmt == "webp" else {})
        )
    return buf.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["tiff", "tiff16", "jpeg", "png", "webp"])
def test_every_orientation_is_applied_exactly_once(fmt, orientation):
    """The decoded picture is the stored one turned as its tag says, once, whatever the Pillow
    (Pillow 13 applies a TIFF's tag itself while loading and drops it; bwcolor must not again)."""
    stored = np.zeros((16, 32, 3), np.uint8)
    stored[:8, :8] = (250, 40, 40)  # a red block in the top-left corner as stored, on black
    stored[8:, 24:] = (40, 40, 250)  # and a blue one bottom-right
    if fmt == "tiff16":
        stored = stored.astype(np.uint16) * 257
    data = _oriented_file(fmt.removesuffix("16"), stored, orientation)
    got = decode_image(data).pixels
    expected = apply_orientation(stored, orientation)  # the EXIF definition, applied once
    assert got.shape == expected.shape
    error = np.abs(got.astype(int) - expected.astype(int))
    if fmt == "jpeg":  # lossy: ringing at the blocks' edges; a wrong turn moves whole blocks (error ~25)
        assert error.mean() < 6
    else:
        assert error.max() == 0


def test_apply_orientation_on_2d_arrays():
    a = np.arange(6).reshape(2, 3)
    assert apply_orientation(a, 6).shape == (3, 2)
    assert np.array_equal(apply_orientation(a, 3), a[::-1, ::-1])


def test_16bit_gray_and_colour_keep_their_depth(tmp_path):
    g16 = (np.linspace(0, 65535, 30 * 20).reshape(30, 20)).astype(np.uint16)
    assert read_image(write(tmp_path / "g.png", g16)).pixels.dtype == np.uint16
    assert np.array_equal(read_image(write(tmp_path / "g.tif", g16)).pixels, g16)
    c16 = (gradient_rgb(30, 20).astype(np.uint16) * 257) + 3
    pic = read_image(write(tmp_path / "c.png", c16))
    assert pic.pixels.dtype == np.uint16 and np.array_equal(pic.pixels, c16)
    assert np.array_equal(read_image(write(tmp_path / "c.tif", c16)).pixels, c16)


def test_alpha_and_palette(tmp_path):
    rgba = np.dstack([gradient_rgb(10, 12), np.arange(120, dtype=np.uint8).reshape(10, 12)])
    pic = read_image(write(tmp_path / "a.png", rgba))
    assert np.array_equal(pic.alpha, rgba[..., 3]) and pic.pixels.shape == (10, 12, 3)
    Image.fromarray(gradient_rgb(10, 12)).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").pixels.shape == (10, 12, 3)
    Image.fromarray(gradient_rgb(10, 12)[..., 0]).convert("LA").save(tmp_path / "la.png")
    pic = read_image(tmp_path / "la.png")
    assert pic.pixels.shape == (10, 12) and pic.alpha.shape == (10, 12)


def test_cmyk_jpeg_and_multipage_tiff(tmp_path):
    Image.fromarray(gradient_rgb(16, 16)).convert("CMYK").save(tmp_path / "c.jpg")
    assert read_image(tmp_path / "c.jpg").pixels.shape == (16, 16, 3)
    pages = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 200)]
    pages[0].save(tmp_path / "m.tif", save_all=True, append_images=pages[1:])
    pic = read_image(tmp_path / "m.tif")
    assert (pic.pixels == 10).all() and "first" in pic.notes[0]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"hello, I am text", "not a supported image"),
        (b"%PDF-1.4\n...", "not a supported image"),
    ],
)
def test_bad_files_raise_one_clear_message(tmp_path, content, message):
    p = tmp_path / "x.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        read_image(p)


def test_truncated_images_are_detected(tmp_path):
    data = jpeg_bytes(gradient_rgb(64, 64))
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated"):
        read_image(tmp_path / "t.jpg")
    png = write(tmp_path / "full.png", gradient_rgb(64, 64)).read_bytes()
    (tmp_path / "t.png").write_bytes(png[: len(png) // 2])
    with pytest.raises(ImageError, match="truncated|cannot decode"):
        read_image(tmp_path / "t.png")


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    write(tmp_path / "big.png", np.zeros((100, 100), np.uint8))
    with pytest.raises(ImageError, match="exceeds the limit of 9,999"):
        read_image(tmp_path / "big.png", max_pixels=9_999)


def test_encode_drops_what_a_format_cannot_hold():
    rgb16 = np.full((4, 4, 3), 65535, np.uint16)
    alpha = np.full((4, 4), 65535, np.uint16)
    jpg = decode_image(encode_image(rgb16, alpha, "jpg"))
    assert jpg.pixels.dtype == np.uint8 and jpg.alpha is None and jpg.pixels.min() >= 254
    png = decode_image(encode_image(rgb16, alpha, "png"))
    assert png.pixels.dtype == np.uint16 and png.alpha is not None


def test_output_path_changes_extension_only_for_a_new_format():
    from pathlib import Path

    assert output_path(Path("a/b.JPEG"), None) == Path("a/b.JPEG")
    assert output_path(Path("a/b.JPEG"), "jpg") == Path("a/b.JPEG")
    assert output_path(Path("a/b.tiff"), "png") == Path("a/b.png")
