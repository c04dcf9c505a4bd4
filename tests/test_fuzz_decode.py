"""Fuzzing the decode path (hypothesis): random and mutated image bytes give a Picture or the
documented per-file ImageError, never another exception, a crash or a hang.

CI runs a few hundred inputs; ``BWCOLOR_FUZZ_EXAMPLES=20000`` runs a long campaign (the figure
in docs/reliability.md).
"""

import io as _io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bwcolor.errors import ImageError
from bwcolor.files.decode import decode_image
from tests.conftest import gradient_rgb, gray_of

EXAMPLES = int(os.environ.get("BWCOLOR_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=5000,  # ms per input: a hang fails the test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
MAX_PIXELS = 4_000_000  # mutated headers may declare anything: the limit must hold


def _encoded(fmt: str, **kw) -> bytes:
    rgb = gradient_rgb(12, 16)
    pixels = {"L": gray_of(rgb), "RGB": rgb, "I;16": gray_of(rgb).astype(np.uint16) * 257}
    mode = kw.pop("mode", "L")
    buf = _io.BytesIO()
    Image.fromarray(pixels[mode]).save(buf, fmt, **kw)
    return buf.getvalue()


SEEDS = {
    "jpeg": _encoded("JPEG"),
    "jpeg-progressive": _encoded("JPEG", mode="RGB", progressive=True),
    "png": _encoded("PNG", mode="RGB"),
    "png16": _encoded("PNG", mode="I;16"),
    "tiff": _encoded("TIFF", mode="RGB", compression="tiff_deflate"),
    "tiff16": _encoded("TIFF", mode="I;16"),
    "webp": _encoded("WEBP"),
    "bmp": _encoded("BMP"),
    "gif": _encoded("GIF"),
}


def check(data: bytes) -> None:
    try:
        picture = decode_image(data, max_pixels=MAX_PIXELS)
    except ImageError as exc:
        assert str(exc) and "\n" not in str(exc)  # one line
        return
    assert picture.pixels.ndim in (2, 3) and picture.pixels.size > 0
    assert picture.pixels.size <= 4 * MAX_PIXELS


def test_seeds_decode():
    for name, data in SEEDS.items():
        if name == "gif":  # a format bwcolor does not list: refused whatever the decoder could do
            with pytest.raises(ImageError, match="not a supported image"):
                decode_image(data)
            continue
        assert decode_image(data).pixels.shape[:2] == (12, 16), name


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data):
    check(data)


@st.composite
def mutated(draw):
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "header"]))
        pos = draw(st.integers(0, len(data) - 1)) if data else 0
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            data = data[:pos]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "header" and len(data) > 32:  # sizes and counts live in the first bytes
            p = draw(st.integers(0, 31))
            data[p : p + 4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_images(data):
    check(data)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_truncation_of_each_seed(name):
    data = SEEDS[name]
    for end in range(0, len(data), max(1, len(data) // 40)):
        check(data[:end])


@pytest.mark.parametrize("name", ["tiff", "tiff16", "png", "jpeg"])
def test_every_single_byte_change_in_the_header(name):
    """Each of the first 160 bytes set to 0x00 and to 0xff (the fuzzer once found a TIFF whose
    damaged directory made Pillow raise TypeError: now a per-file error like the rest)."""
    seed = SEEDS[name]
    for pos in range(min(160, len(seed))):
        for value in (0x00, 0xFF):
            data = bytearray(seed)
            data[pos] = value
            check(bytes(data))
