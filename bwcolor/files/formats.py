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
#: File extensions treated as videos by ``bwcolor colorize`` (see :mod:`bwcolor.pipeline.films`).
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def normalise_format(name: str) -> str:
    key = name.lower().lstrip(".")
    key = FORMAT_ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(f"unknown output format {name!r}; choose from {', '.join(FORMATS)}")
    return key


def format_of(path: Path) -> str:
    return normalise_format(path.suffix)


def output_path(source: Path, fmt: str | None) -> Path:
    """The output name for ``source``: the same name, with the extension changed for a new image
    format (a video keeps its container)."""
    if fmt is None or is_video_path(source) or format_of(source) == normalise_format(fmt):
        return source
    return source.with_suffix(FORMATS[normalise_format(fmt)][0])
