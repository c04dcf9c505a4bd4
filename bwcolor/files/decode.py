"""Reading images: every format a scanner writes, bit depth, alpha and orientation kept.

Decoding uses Pillow, and only its JPEG, PNG, TIFF, BMP and WebP plugins (it detects truncated
files, honours palettes, CMYK and multi-page TIFF, and reads the header first, so the pixel limit
is enforced before any pixel is decoded); 16-bit colour, which Pillow reduces to 8 bits, is
decoded by tifffile (TIFF) or OpenCV (PNG, and LZW TIFF without the optional imagecodecs
package); TIFFs Pillow cannot open (float RGB) by tifffile. Files are read as they are decoded: a
large scan is never held whole in memory as bytes.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from bwcolor.errors import ImageError
from bwcolor.files.formats import IMAGE_EXTENSIONS
from bwcolor.files.metadata import Metadata, read_metadata
from bwcolor.files.pixels import Picture

#: Images with more pixels are refused before decoding (decompression-bomb guard).
DEFAULT_MAX_PIXELS = 200_000_000

_ORIENTATION_TAG = 0x0112
#: The Pillow formats bwcolor decodes (a camera's multi-picture JPEG opens as JPEG). Nothing else
#: is handed to Pillow, whatever a file's content claims: no PostScript through Ghostscript.
PILLOW_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP")


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Decode ``path`` into an upright :class:`Picture`; raise :class:`ImageError` with the cause."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageError("broken symbolic link" if path.is_symlink() else "file not found") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except OSError as exc:
        raise ImageError(f"cannot read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise ImageError("is a directory")
    if size == 0:
        raise ImageError("empty file (0 bytes)")
    try:
        f = path.open("rb")  # read as decoded: a scan's file is never held whole beside its pixels
    except PermissionError:
        raise ImageError("permission denied") from None
    except OSError as exc:
        raise ImageError(f"cannot read ({exc.strerror or exc})") from None
    with f:
        return _decode_quietly(f, max_pixels)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Decode encoded image bytes into an upright :class:`Picture`."""
    import io as _io

    return _decode_quietly(_io.BytesIO(data), max_pixels)


def _decode_quietly(f: BinaryIO, max_pixels: int) -> Picture:
    with warnings.catch_warnings():  # decoders warn about damaged metadata: the image is still used
        warnings.simplefilter("ignore")
        return _decode(f, max_pixels)


def open_image(f: BinaryIO) -> Image.Image:
    """Open ``f`` with the first of :data:`PILLOW_FORMATS` whose plugin accepts its content.

    Like ``Image.open`` restricted to those formats, and without Pillow's global
    decompression-bomb limit, which bwcolor neither changes nor relies on: its own ``max_pixels``
    is checked on the header before decoding (see :func:`read_image`).
    """
    from PIL import BmpImagePlugin, JpegImagePlugin, PngImagePlugin, TiffImagePlugin, WebPImagePlugin  # noqa: F401

    prefix = f.read(16)
    for fmt in PILLOW_FORMATS:
        factory, accept = Image.OPEN[fmt]
        if accept is not None and not accept(prefix):
            continue
        f.seek(0)
        try:
            return factory(f, "")
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue
    raise UnidentifiedImageError("not a supported image")


def _decode(f: BinaryIO, max_pixels: int) -> Picture:
    try:
        im = open_image(f)
    except UnidentifiedImageError:
        f.seek(0)
        if f.read(4) in (b"II*\0", b"MM\0*"):  # a TIFF Pillow cannot read, e.g. float RGB
            return _decode_tiff_samples(f, max_pixels)
        raise ImageError(f"not a supported image (bwcolor reads {', '.join(IMAGE_EXTENSIONS)})") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a per-file error
        raise ImageError(f"cannot decode ({_describe(exc)})") from None
    try:
        with im:
            picture = _read_opened(im, f, max_pixels)
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged headers fail in many ways: one per-file error
        raise ImageError(f"cannot decode ({_describe(exc)})") from None
    return picture


def _read_opened(im: Image.Image, f: BinaryIO, max_pixels: int) -> Picture:
    width, height = im.size
    if width * height > max_pixels:
        raise ImageError(
            f"too large: {width}x{height} = {width * height:,} pixels exceeds the limit of "
            f"{max_pixels:,} (raise it with --max-pixels)"
        )
    if width == 0 or height == 0:
        raise ImageError("image has no pixels")
    deep_colour = _is_16bit_colour(im)  # before anything that may load the pixels
    notes = []
    if getattr(im, "n_frames", 1) > 1:
        notes.append(f"has {im.n_frames} pages or frames: only the first is colorized")
    orientation = _orientation(im)
    metadata = read_metadata(im)
    decoded = _decode_tiff16(f) if deep_colour and im.format == "TIFF" else None
    if decoded is not None:
        pixels, alpha = decoded
    elif deep_colour:
        f.seek(0)
        pixels, alpha = _decode_opencv(f.read())
    else:
        pixels, alpha = _pillow_to_arrays(im, notes)
        if orientation != 1 and _orientation(im) == 1:
            orientation = 1  # this Pillow applied it while loading (TIFF, Pillow >= 13) and dropped the tag
    pixels = apply_orientation(pixels, orientation)
    alpha = apply_orientation(alpha, orientation) if alpha is not None else None
    return Picture(pixels, alpha, (im.format or "").lower(), notes, metadata)


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "truncated" in text.lower() or "end of file" in text.lower():
        return "file is truncated"
    return text


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block must not stop the image
        return 1
    return value if 1 <= value <= 8 else 1


def apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an (H, W[, C]) array, as Pillow's exif_transpose."""
    ops = {
        1: lambda x: x,
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: x.swapaxes(0, 1),
        6: lambda x: np.rot90(x, -1),
        7: lambda x: x.swapaxes(0, 1)[::-1, ::-1],
        8: lambda x: np.rot90(x, 1),
    }
    return np.ascontiguousarray(ops[orientation](a))


def _is_16bit_colour(im: Image.Image) -> bool:
    if im.mode not in ("RGB", "RGBA"):
        return False
    if im.format == "PNG":
        return any(";16" in str(t.args) for t in im.tile)
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return any(int(b) > 8 for b in bits)
    return False


def _decode_tiff16(f: BinaryIO) -> tuple[np.ndarray, np.ndarray | None] | None:
    """16-bit colour TIFF (Pillow reads 8 bits only): tifffile decodes the first page straight into
    one array, without the whole file in memory beside it. None if tifffile cannot (e.g. LZW
    without the optional imagecodecs package): OpenCV decodes it then."""
    import tifffile

    f.seek(0)
    try:
        with tifffile.TiffFile(f) as tif:
            a = tif.pages[0].asarray()
    except (ValueError, ImportError, NotImplementedError):
        return None
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.dtype != np.uint16:  # e.g. planar samples
        return None
    return (a[..., :3].copy(), a[..., 3].copy()) if a.shape[2] == 4 else (a, None)


def _decode_tiff_samples(f: BinaryIO, max_pixels: int) -> Picture:
    """A TIFF that Pillow cannot open (float or 32-bit RGB, say), read by tifffile: the first
    page's gray or RGB(A) samples, as levels; orientation applied; no metadata carried."""
    import tifffile

    f.seek(0)
    try:
        with tifffile.TiffFile(f) as tif:
            page = tif.pages[0]
            h, w = page.shape[:2]
            if h * w > max_pixels:
                raise ImageError(f"too large: {w}x{h} = {w * h:,} pixels exceeds the limit of {max_pixels:,}")
            a = page.asarray()
            tag = page.tags.get(_ORIENTATION_TAG)
            orientation = int(tag.value) if tag is not None and 1 <= int(tag.value) <= 8 else 1
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any tifffile failure is a per-file error
        raise ImageError(f"not a supported image ({_describe(exc)})") from None
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or a.size == 0:
        raise ImageError(f"not a supported image (TIFF samples of shape {a.shape})")
    notes: list[str] = []
    if a.dtype.kind == "f":
        a = float_levels(a.astype(np.float32), notes)
    elif a.dtype.kind in "ui" and a.dtype.itemsize > 2:
        a = (np.clip(a, 0, None).astype(np.float64) / np.iinfo(a.dtype).max).astype(np.float32)
    elif a.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"not a supported image (TIFF samples of type {a.dtype})")
    alpha = a[..., 3] if a.ndim == 3 and a.shape[2] == 4 else None
    pixels = a[..., :3] if a.ndim == 3 else a
    pixels = apply_orientation(pixels, orientation)
    alpha = apply_orientation(alpha, orientation) if alpha is not None else None
    return Picture(pixels, alpha, "tiff", notes, Metadata())


def _decode_opencv(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    buf = np.frombuffer(data, dtype=np.uint8)
    a = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if a is None:
        raise ImageError("cannot decode 16-bit colour image")
    if a.ndim == 3 and a.shape[2] == 4:
        return a[..., 2::-1].copy(), a[..., 3].copy()
    if a.ndim == 3:
        return cv2.cvtColor(a, cv2.COLOR_BGR2RGB, dst=a), None  # in place: no second full copy
    return a, None


def _pillow_to_arrays(im: Image.Image, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    mode = im.mode
    im.load()
    if mode in ("1", "L"):
        return np.asarray(im.convert("L")), None
    if mode == "LA":
        a = np.asarray(im)
        return a[..., 0].copy(), a[..., 1].copy()
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16, copy=False), None
    if mode == "I":
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16), None
    if mode == "F":
        return float_levels(np.asarray(im, dtype=np.float32), notes), None
    has_alpha = mode in ("RGBA", "PA", "La") or "transparency" in im.info
    if has_alpha:
        a = np.asarray(im.convert("RGBA"))
        return a[..., :3].copy(), a[..., 3].copy()
    return np.asarray(im.convert("RGB")), None


def float_levels(a: np.ndarray, notes: list[str]) -> np.ndarray:
    """Float pixels as levels in [0, 1]. Float images are usually 0-1, but some tools write 0-255
    or 0-65535: the largest value decides which (and a note says what was assumed)."""
    finite = np.isfinite(a)
    top = float(a[finite].max()) if finite.any() else 0.0
    scale = 1.0
    if top > 1.0:
        scale = 255.0 if top <= 255.0 else 65535.0 if top <= 65535.0 else top
        notes.append(f"float pixels up to {top:g}: read as levels from 0 to {scale:g}")
    if not finite.all():
        notes.append("float pixels that are NaN or infinite: read as black")
    return np.clip(np.nan_to_num(a / scale, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0).astype(np.float32)
