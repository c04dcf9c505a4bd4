"""Reading and writing images: every format a scanner writes, bit depth, alpha and EXIF kept.

Decoding uses Pillow (it detects truncated files, honours palettes, CMYK and multi-page TIFF,
and reads the header first, so a pixel limit is enforced before any pixel is decoded); 16-bit
colour, which Pillow reduces to 8 bits, is decoded by tifffile (TIFF) or OpenCV (PNG, and LZW
TIFF without the optional imagecodecs package). Files are read as they are decoded and outputs
encoded straight into their file: a large scan is never held whole in memory as bytes. Encoding uses
Pillow (JPEG, 8-bit PNG, WebP, BMP), OpenCV (16-bit colour PNG) and tifffile (TIFF), each with
the metadata its format holds, and writes through a temporary file renamed into place, so an
interrupted run never leaves a half-written image.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from bwcolor.errors import ImageError
from bwcolor.metadata import Metadata, ascii_text, read_metadata

#: File extensions treated as images (matched case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
#: Output formats: name -> (extension, keeps alpha, can hold 16 bits).
FORMATS = {
    "jpg": (".jpg", False, False),
    "png": (".png", True, True),
    "tif": (".tif", True, True),
    "webp": (".webp", True, False),
    "bmp": (".bmp", False, False),
}
FORMAT_ALIASES = {"jpeg": "jpg", "tiff": "tif"}
#: Images with more pixels are refused before decoding (decompression-bomb guard).
DEFAULT_MAX_PIXELS = 200_000_000

_ORIENTATION_TAG = 0x0112
#: The Pillow formats bwcolor decodes (a camera's multi-picture JPEG opens as JPEG). Nothing else
#: is handed to Pillow, whatever a file's content claims: no PostScript through Ghostscript.
PILLOW_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP")


@dataclass
class Picture:
    """A decoded image, upright (EXIF orientation applied).

    ``pixels`` is (H, W) gray or (H, W, 3) RGB, uint8 or uint16 (float32 in [0, 1] for float
    TIFFs); ``alpha`` is (H, W) of the same dtype, or None.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    source_format: str = ""
    notes: list[str] = field(default_factory=list)
    metadata: Metadata = field(default_factory=Metadata)

    @property
    def bit_depth(self) -> int:
        return 8 if self.pixels.dtype == np.uint8 else 16

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def normalise_format(name: str) -> str:
    key = name.lower().lstrip(".")
    key = FORMAT_ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(f"unknown output format {name!r}; choose from {', '.join(FORMATS)}")
    return key


def format_of(path: Path) -> str:
    return normalise_format(path.suffix)


def to_float(pixels: np.ndarray) -> np.ndarray:
    """Integer or float pixels -> float32 in [0, 1]."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) * (1 / 255)
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) * (1 / 65535)
    return np.clip(pixels.astype(np.float32), 0.0, 1.0)


def from_float(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float in [0, 1] -> uint8 or uint16, rounded (values outside [0, 1] saturate)."""
    if (
        np.dtype(dtype) == np.uint8
        and values.dtype == np.float32
        and values.ndim == 3
        and values.shape[2] <= 4
    ):
        # 25x faster than numpy; negatives zeroed first (convertScaleAbs takes absolute values)
        positive = cv2.threshold(values, 0.0, 0.0, cv2.THRESH_TOZERO)[1]
        return cv2.convertScaleAbs(positive, alpha=255.0)
    top = 255 if np.dtype(dtype) == np.uint8 else 65535
    return (np.clip(values, 0.0, 1.0) * top + 0.5).astype(dtype)


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


def output_path(source: Path, fmt: str | None) -> Path:
    """The output name for ``source``: the same name, with the extension changed for a new format."""
    if fmt is None or format_of(source) == normalise_format(fmt):
        return source
    return source.with_suffix(FORMATS[normalise_format(fmt)][0])


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
    ``metadata``, everything of it the format holds is written (see :mod:`bwcolor.metadata`):
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


TEMP_SUFFIX = ".bwcolor-tmp"
_HOST = socket.gethostname().replace(".", "_")


def write_atomic(path: Path, data: bytes | Callable[[BinaryIO], None], durable: bool = True) -> None:
    """Write ``data`` (bytes, or a function writing into a file) to ``path`` through a temporary
    file in the same folder, then rename.

    The temporary file is named ``.<name>.<host>-<pid>.<random>.bwcolor-tmp``, so that one left
    by a killed process can be recognised and removed (:func:`remove_stale_temporaries`).
    ``durable=False`` skips the fsync: for caches, which a power cut may lose but never corrupt
    (the rename is still atomic), and where 100,000 fsyncs would cost minutes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        os.close(fd)  # reopened by name: writers such as tifffile want a named file
        with open(tmp, "wb") as f:
            data(f) if callable(data) else f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, created with mode 0666 less the umask (what a plain
    ``open`` gives; the umask is never changed, not even for a moment), as ``(fd, name)``."""
    prefix = f".{_short_name(path.name)}.{_HOST}-{os.getpid()}."
    for _ in range(100):
        tmp = str(path.parent / f"{prefix}{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            return os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666
            ), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def _short_name(name: str, limit: int = 100) -> str:
    """``name``, cut to about ``limit`` bytes (with a hash of the rest) so temporary names fit."""
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    return os.fsdecode(raw[: limit - 10]).replace(".", "_") + "~" + hashlib.sha1(raw).hexdigest()[:8]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale_temporaries(folders, other_hosts_after: float = 24 * 3600) -> int:
    """Delete temporary files that killed bwcolor processes left in ``folders``; returns how many.

    A temporary file is stale if its process (named in it) no longer runs on this host, or, if
    written on another host sharing the folder, if it is older than ``other_hosts_after`` seconds.
    """
    import time

    removed = 0
    for folder in folders:
        try:
            entries = [e for e in os.scandir(folder) if e.name.endswith(TEMP_SUFFIX) and e.is_file()]
        except OSError:
            continue
        for entry in entries:
            owner = entry.name[: -len(TEMP_SUFFIX)].rsplit(".", 2)[-2]  # "<host>-<pid>"
            host, _, pid = owner.rpartition("-")
            try:
                if host == _HOST and pid.isdigit():
                    stale = not _pid_alive(int(pid))
                else:
                    stale = time.time() - entry.stat().st_mtime > other_hosts_after
                if stale:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
    return removed
