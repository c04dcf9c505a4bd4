"""The speed scripts' test folder: gray 768x512 JPEGs made from colour photos."""

from __future__ import annotations

from pathlib import Path

from bwcolor.files.inputs import expand_inputs


def gray_jpegs(photos: str, folder: Path, count: int, size: tuple[int, int] = (768, 512)) -> list[Path]:
    """The speed measurements' test folder: the first ``count`` photos under ``photos``, made gray
    and resized to ``size`` (width, height), as JPEGs in ``folder``."""
    import cv2

    sources, _ = expand_inputs([photos])
    paths = []
    for i, source in enumerate(sources[:count]):
        gray = cv2.imread(str(source.path), cv2.IMREAD_GRAYSCALE)
        path = folder / f"{i:02d}.jpg"
        cv2.imwrite(str(path), cv2.resize(gray, size, interpolation=cv2.INTER_AREA))
        paths.append(path)
    return paths
