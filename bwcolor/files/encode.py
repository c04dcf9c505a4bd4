"""Writing images: Pillow (JPEG, 8-bit PNG, WebP, BMP), OpenCV (16-bit colour PNG) and tifffile
(TIFF), each with the metadata its format holds, encoded straight into a temporary file that is
renamed into place (see :mod:`bwcolor.files.atomic`)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image

from bwcolor.errors import ImageError
from bwcolor.files.atomic import write_atomic
from bwcolor.files.formats import FORMATS, normalise_format
from bwcolor.files.metadata import Metadata, ascii_text


def encode_image(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    fmt: str,
    quality: int = 95,
    metadata: Metadata | None = None,
) -> bytes:
    """Encode RGB (H, W, 3) uint8/uint16 (and optional alpha) as ``fmt``; returns the bytes.

    See :func:`write_image`, which streams the same bytes into a file.
    """
    import io as _io

    buf = _io.BytesIO()
    _encoder(rgb, alpha, fmt, quality, metadata)(buf)
    return buf.getvalue()


def write_image(
    path: Path,
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    fmt: str,
    quality: int = 95,
    metadata: Metadata | None = None,
) -> None:
    """Encode as ``fmt`` straight into ``path``, atomically (see :func:`write_atomic`).

    Formats that cannot hold 16 bits get 8; formats that cannot hold alpha drop it. With
    ``metadata``, everything of it the format holds is written (see :mod:`bwcolor.files.metadata`):
    JPEG, PNG and WebP take EXIF, ICC, DPI and XMP; TIFF takes ICC, DPI, XMP and the descriptive
    tags (not the Exif sub-directory); BMP takes DPI. The encoded file is never held in memory.
    Raises :class:`ImageError` if it cannot be encoded, ``OSError`` if it cannot be written.
    """
    write_atomic(path, _encoder(rgb, alpha, fmt, quality, metadata))


def _encoder(
    rgb: np.ndarray, alpha: np.ndarray | None, fmt: str, quality: int, meta: Metadata | None
) -> Callable[[BinaryIO], None]:
    fmt = normalise_format(fmt)
    _, keeps_alpha, deep = FORMATS[fmt]
    if rgb.dtype == np.uint16 and not deep:
        rgb = _to_8bit(rgb)
        alpha = None if alpha is None else _to_8bit(alpha)
    if not keeps_alpha:
        alpha = None
    if alpha is not None:
        alpha = alpha.astype(rgb.dtype)

    def encode(f: BinaryIO) -> None:
        try:
            if fmt == "tif":
                _encode_tiff(f, rgb, alpha, meta)
            elif rgb.dtype == np.uint16:
                _encode_png16(f, rgb, alpha, meta)
            else:
                _encode_pillow(f, rgb, alpha, fmt, quality, meta)
        except (ValueError, TypeError, OverflowError, struct.error) as exc:
            raise ImageError(f"cannot encode as {fmt} ({exc})") from None

    return encode


def _to_8bit(a: np.ndarray) -> np.ndarray:
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _encode_pillow(
    f: BinaryIO, rgb: np.ndarray, alpha: np.ndarray | None, fmt: str, quality: int, meta: Metadata | None
) -> None:
    from PIL import PngImagePlugin

    im = Image.fromarray(np.ascontiguousarray(np.dstack([rgb, alpha]) if alpha is not None else rgb))
    options: dict = {
        "jpg": {"format": "JPEG", "quality": int(quality)},
        "png": {"format": "PNG", "compress_level": 1},
        "webp": {"format": "WEBP", "quality": int(quality)},
        "bmp": {"format": "BMP"},
    }[fmt]
    if meta is not None:
        if meta.dpi:
            options["dpi"] = meta.dpi
        if fmt != "bmp":
            options["icc_profile"] = meta.icc_or_srgb()
            options["exif"] = meta.exif_bytes()
            xmp = meta.xmp_packet()
            if xmp and fmt == "png":
                info = PngImagePlugin.PngInfo()
                info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
                options["pnginfo"] = info
            elif xmp:
                options["xmp"] = xmp
    im.save(f, **options)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _encode_png16(f: BinaryIO, rgb: np.ndarray, alpha: np.ndarray | None, meta: Metadata | None) -> None:
    """16-bit colour PNG (Pillow cannot write it): OpenCV's encoding, metadata chunks added."""
    bgr = rgb[..., ::-1] if alpha is None else np.dstack([rgb[..., ::-1], alpha])
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr))
    if not ok:
        raise ImageError("cannot encode as png")
    data = memoryview(buf)
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
    f.write(data[:ihdr_end])
    if meta is not None:
        f.write(_png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(meta.icc_or_srgb())))
        if meta.dpi:
            ppm = [round(d / 0.0254) for d in meta.dpi]
            f.write(_png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
        f.write(_png_chunk(b"eXIf", meta.exif_bytes().removeprefix(b"Exif\0\0")))
        xmp = meta.xmp_packet()
        if xmp:
            f.write(_png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp))
    f.write(data[ihdr_end:])


def _encode_tiff(f: BinaryIO, rgb: np.ndarray, alpha: np.ndarray | None, meta: Metadata | None) -> None:
    """8- or 16-bit colour TIFF, deflate-compressed, written with tifffile (metadata as tags)."""
    import tifffile

    data = rgb if alpha is None else np.dstack([rgb, alpha])
    # buffersize: compress 32 MiB at a time (tifffile holds 256 MiB by default)
    options: dict = {"photometric": "rgb", "compression": "zlib", "metadata": None, "buffersize": 2**25}
    if alpha is not None:
        options["extrasamples"] = ["unassalpha"]
    if meta is not None:
        icc, xmp = meta.icc_or_srgb(), meta.xmp_packet()
        options["iccprofile"] = icc
        extratags = [(tag, "s", 0, value, True) for tag, value in meta.tags.items() if isinstance(value, str)]
        if xmp:
            extratags.append((700, "B", len(xmp), xmp, True))
        options["extratags"] = extratags
        options["software"] = ascii_text(meta.provenance) if meta.provenance else False
        if meta.dpi:
            options["resolution"], options["resolutionunit"] = meta.dpi, "INCH"
    tifffile.imwrite(f, data, **options)
