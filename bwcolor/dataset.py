"""Training data: colour photos found on disk, decoded once into a cache, served as Lab crops.

* Each image is identified by the SHA-256 of its bytes: the train/validation split is decided by
  that hash (stable when files are added or renamed), and the cache is keyed by it.
* The cache holds each image resized once (short side ``cache_side``) as an ``.npy`` file, loaded
  with ``allow_pickle=False``; later epochs and later runs never decode the original again.
* Grayscale or near-grayscale photos (nothing to learn) and unreadable files are skipped and
  counted, never fatal.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bwcolor import lab
from bwcolor.errors import ImageError
from bwcolor.io import read_image, to_float

#: An image whose a and b both have a standard deviation below this is near-grayscale.
MIN_AB_STD = 2.0
DEFAULT_CACHE = Path(os.environ.get("BWCOLOR_CACHE", Path.home() / ".cache" / "bwcolor"))


@dataclass
class DataSummary:
    found: int = 0
    train: int = 0
    val: int = 0
    skipped_gray: int = 0
    skipped_unreadable: int = 0
    decoded: int = 0  # cache misses: files decoded in this run
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["problems"] = self.problems[:20]
        return d


def content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def in_validation(digest: str, fraction: float) -> bool:
    """Deterministic split: a file is in validation when its hash falls in the first ``fraction``."""
    return int(digest[:8], 16) / 0x1_0000_0000 < fraction


def ab_spread(rgb: np.ndarray) -> float:
    """max(std of a, std of b) on a copy at most 256 px: below MIN_AB_STD, nothing to learn."""
    ab = lab.rgb_to_lab(lab.shrink(rgb, 256))[..., 1:]
    return float(ab.reshape(-1, 2).std(axis=0).max())


def resize_short_side(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = side / min(h, w)
    return lab.resize(rgb, max(side, round(h * scale)), max(side, round(w * scale)))


def cached_image(
    path: Path, digest: str, side: int, cache_dir: Path, summary: DataSummary
) -> np.ndarray | None:
    """The image as uint8 RGB with short side ``side``, from the cache or decoded once into it.

    Returns None (and counts why) for unreadable and near-grayscale images; both outcomes are
    cached too, so a second run decodes nothing.
    """
    entry = cache_dir / digest[:2] / f"{digest}-{side}.npy"
    gray_marker = entry.with_suffix(".gray")
    if gray_marker.exists():
        summary.skipped_gray += 1
        return None
    if entry.exists():
        try:
            return np.load(entry, allow_pickle=False)
        except (OSError, ValueError):
            entry.unlink(missing_ok=True)  # a damaged cache entry is simply rebuilt
    try:
        picture = read_image(path)
    except ImageError as exc:
        summary.skipped_unreadable += 1
        summary.problems.append(f"{path}: {exc}")
        return None
    summary.decoded += 1
    entry.parent.mkdir(parents=True, exist_ok=True)
    if picture.pixels.ndim == 2:
        gray_marker.touch()
        summary.skipped_gray += 1
        return None
    rgb = to_float(picture.pixels)
    if ab_spread(rgb) < MIN_AB_STD:
        gray_marker.touch()
        summary.skipped_gray += 1
        return None
    small = (resize_short_side(rgb, side) * 255 + 0.5).astype(np.uint8)
    save_array(entry, small)
    return small


def save_array(entry: Path, array: np.ndarray) -> None:
    """Write a cache entry atomically (a concurrent or interrupted run never sees half a file)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)
    os.replace(tmp, entry)


@dataclass
class ImageSet:
    images: list[np.ndarray]
    digests: list[str]
    paths: list[Path]

    def __len__(self) -> int:
        return len(self.images)


def load_images(
    paths: Iterable[Path],
    side: int,
    cache_dir: Path,
    val_fraction: float,
    val_paths: Iterable[Path] | None = None,
    max_images: int | None = None,
    progress=None,
) -> tuple[ImageSet, ImageSet, DataSummary]:
    """Load (through the cache) the training and validation images.

    Validation is ``val_paths`` when given, else the files whose hash falls in ``val_fraction``.
    ``max_images`` keeps the first N training images in hash order (a stable subset).
    """
    summary = DataSummary()
    paths = list(paths)
    val_paths = list(val_paths) if val_paths is not None else None
    entries = [(p, content_hash(p), False) for p in paths]
    if val_paths is not None:
        entries += [(p, content_hash(p), True) for p in val_paths]
    else:
        entries = [(p, d, in_validation(d, val_fraction)) for p, d, _ in entries]
    seen: set[str] = set()
    unique = []
    for p, d, is_val in sorted(entries, key=lambda e: e[1]):
        if d not in seen:  # byte-identical duplicates are used once
            seen.add(d)
            unique.append((p, d, is_val))
    summary.found = len(unique)
    train, val = ImageSet([], [], []), ImageSet([], [], [])
    for p, d, is_val in unique:
        target = val if is_val else train
        if not is_val and max_images is not None and len(train) >= max_images:
            continue
        img = cached_image(p, d, side, cache_dir, summary)
        if img is not None:
            target.images.append(img)
            target.digests.append(d)
            target.paths.append(p)
        if progress is not None:
            progress()
    summary.train, summary.val = len(train), len(val)
    return train, val, summary


def lab_pair(rgb_u8: np.ndarray, norm: lab.Normalisation) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB crop -> normalised L (h, w) and ab (2, h, w)."""
    lab_img = lab.rgb_to_lab(rgb_u8.astype(np.float32) * (1 / 255))
    return norm.encode_l(lab_img[..., 0]), norm.encode_ab(lab_img[..., 1:]).transpose(2, 0, 1)


def random_resized_crop(
    img: np.ndarray, size: int, rng: np.random.Generator, scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3)
) -> np.ndarray:
    """A random crop of ``scale`` of the area and aspect ``ratio``, resized to size x size."""
    h, w = img.shape[:2]
    for _ in range(10):
        area = h * w * rng.uniform(*scale)
        aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
        cw, ch = round(np.sqrt(area * aspect)), round(np.sqrt(area / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            return lab.resize(img[y : y + ch, x : x + cw], size, size)
    return center_crop(img, size)


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    """Resize the short side to ``size`` and take the central size x size square."""
    img = resize_short_side(img, size)
    h, w = img.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return img[y : y + size, x : x + size]


#: Fixed views of each image for models whose encoder features are cached: three square crops
#: (start, centre and end of the long side) x (as is, mirrored). View 2 is :func:`center_crop`.
VIEWS = 6
CENTRE_VIEW = 2


def view_crop(img: np.ndarray, size: int, view: int) -> np.ndarray:
    """View ``view`` (0..VIEWS-1) of an image, size x size."""
    img = resize_short_side(img, size)
    h, w = img.shape[:2]
    where, flip = divmod(view, 2)
    y = [0, (h - size) // 2, h - size][where]
    x = [0, (w - size) // 2, w - size][where]
    crop = img[y : y + size, x : x + size]
    return np.ascontiguousarray(crop[:, ::-1]) if flip else crop


def view_batch(
    images: list[np.ndarray], indices: np.ndarray, views: np.ndarray, size: int, norm: lab.Normalisation
) -> tuple[np.ndarray, np.ndarray]:
    """L (B, 1, s, s) and ab (B, 2, s, s) of the given views of the given images."""
    pairs = [lab_pair(view_crop(images[i], size, int(v)), norm) for i, v in zip(indices, views, strict=True)]
    return np.stack([p[0][None] for p in pairs]), np.stack([p[1] for p in pairs])


def training_batch(
    images: list[np.ndarray],
    indices: np.ndarray,
    size: int,
    rng: np.random.Generator,
    norm: lab.Normalisation,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Augmented batch: L (B, 1, s, s), ab (B, 2, s, s), and whether each crop was flipped (B,)."""
    ls, abs_, flips = [], [], []
    for i in indices:
        crop = random_resized_crop(images[i], size, rng)
        flip = bool(rng.random() < 0.5)
        if flip:
            crop = crop[:, ::-1]
        lum, ab = lab_pair(np.ascontiguousarray(crop), norm)
        ls.append(lum[None])
        abs_.append(ab)
        flips.append(flip)
    return np.stack(ls), np.stack(abs_), np.array(flips)


def validation_arrays(
    images: list[np.ndarray], size: int, norm: lab.Normalisation
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic centre crops of the validation images: L (N, 1, s, s), ab (N, 2, s, s)."""
    pairs = [lab_pair(np.ascontiguousarray(center_crop(img, size)), norm) for img in images]
    return np.stack([p[0][None] for p in pairs]), np.stack([p[1] for p in pairs])
