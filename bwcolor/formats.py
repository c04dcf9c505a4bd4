"""The image formats bwcolor reads and writes: extensions, names, and output file names."""

from __future__ import annotations

from pathlib import Path

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


def output_path(source: Path, fmt: str | None) -> Path:
    """The output name for ``source``: the same name, with the extension changed for a new format."""
    if fmt is None or format_of(source) == normalise_format(fmt):
        return source
    return source.with_suffix(FORMATS[normalise_format(fmt)][0])
