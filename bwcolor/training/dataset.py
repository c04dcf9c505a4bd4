"""Training data: colour photos found on disk, decoded once into a cache, served as Lab crops.

* Each image is identified by the SHA-256 of its bytes: the train/validation split is decided by
  that hash (stable when files are added or renamed), and the cache is keyed by it.
* The cache holds each image resized once (short side at most ``cache_side``; smaller photos are
  kept at their size) as an ``.npy`` file, loaded with ``allow_pickle=False``; later epochs and
  later runs never decode the original again.
* Nothing is held in memory for the whole run: an :class:`ImageSet` names cache entries, and a
  batch loads the ones it needs (the operating system's page cache keeps the hot ones). Memory
  therefore does not grow with the number of photos.
* Hashing and decoding into the cache run in worker processes (joblib's loky), in chunks, so a folder of
  150,000 photos uses every core and reports progress as it goes.
* Each DATA argument is a *source*; :func:`epoch_indices` can cap how many images each source
  gives an epoch, drawing a new subset every epoch, so a large source does not drown a small one.
* Grayscale or near-grayscale photos (nothing to learn) and unreadable files are skipped and
  counted, never fatal.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bwcolor import lab
from bwcolor.errors import ImageError, UsageError
from bwcolor.files.cache import load_array, save_array, write_entry
from bwcolor.files.decode import open_image, read_image
from bwcolor.files.pixels import to_float

#: An image whose a and b both have a standard deviation below this is near-grayscale.
MIN_AB_STD = 2.0
#: Files per task sent to a worker process (progress advances by a chunk at a time).
CHUNK = 64
#: Below this many files, hashing and decoding run in this process (starting workers costs more).
PARALLEL_FROM = 512
#: Photos whose long side is more than this many times their short side are skipped (a strip of
#: 1 x 20,000 pixels has no square crop worth learning from, and would be scaled up enormously).
MAX_ASPECT = 10
#: Disk space left free when filling the cache.
DISK_MARGIN = 1 << 30


@dataclass
class DataSummary:
    found: int = 0
    train: int = 0
    val: int = 0
    skipped_gray: int = 0
    skipped_unreadable: int = 0
    skipped_shape: int = 0  # thinner than 1 : MAX_ASPECT: no square crop of them is a photo
    decoded: int = 0  # cache misses: files decoded in this run
    sources: dict[str, dict[str, int]] = field(default_factory=dict)  # per source: train, val
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["problems"] = self.problems[:20]
        return d


#: Fewer validation photos than this give scores too noisy to choose a checkpoint by.
FEW_VALIDATION = 50
#: Fewer training photos than this teach a network those photos' colours, not colour.
FEW_TRAINING = 500


def data_warnings(summary: DataSummary, fine_tuning: bool = False) -> list[str]:
    """What is wrong with a training set that is not an error: too little of it, or mostly gray."""
    out = []
    if 0 < summary.val < FEW_VALIDATION:
        out.append(
            f"only {summary.val} validation photos: scores on so few (and the best epoch chosen by them) "
            f"are noise; give at least {FEW_VALIDATION} (a larger --val-fraction, or --val FOLDER)"
        )
    if 0 < summary.train < FEW_TRAINING:
        advice = (
            "give more"
            if fine_tuning
            else "fine-tune the default (--init-from effnet_unet), or give thousands"
        )
        out.append(
            f"only {summary.train} training photos: a network learns the colours of so few photos, "
            f"not colour; {advice}"
        )
    if summary.skipped_gray > summary.train:
        out.append(
            f"{summary.skipped_gray} of the {summary.found} photos are grayscale or near-grayscale and were "
            "skipped: training learns colour from colour photos"
        )
    return out


@dataclass(frozen=True)
class DataFile:
    path: Path
    source: str  # the DATA argument it was found through
    is_val: bool = False


def default_cache() -> Path:
    """Where training caches decoded photos and embeddings unless told: $BWCOLOR_CACHE, else
    ~/.cache/bwcolor (read when a run starts, not at import)."""
    return Path(os.environ.get("BWCOLOR_CACHE") or Path.home() / ".cache" / "bwcolor")


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


def cache_entry(cache_dir: Path, digest: str, side: int) -> Path:
    return cache_dir / digest[:2] / f"{digest}-{side}.npy"


def cache_image(path: Path, digest: str, side: int, cache_dir: Path) -> tuple[str, str]:
    """Decode ``path`` into the cache (short side at most ``side``, uint8 RGB) unless it is there.

    Returns ``(status, detail)``: ("ok" | "cached", ""), ("gray", "") or ("unreadable", cause).
    Both skips are remembered in the cache too (a marker file, or the error's text), so a second
    run decodes nothing.
    """
    entry = cache_entry(cache_dir, digest, side)
    gray_marker, bad_marker = entry.with_suffix(".gray"), entry.with_suffix(".unreadable")
    if gray_marker.exists():
        return "gray", ""
    if bad_marker.exists():
        return "unreadable", bad_marker.read_text(errors="replace")
    if entry.exists():
        return "cached", ""
    try:
        picture = read_image(path)
    except ImageError as exc:
        write_entry(bad_marker, str(exc).encode())
        return "unreadable", str(exc)
    if picture.pixels.ndim == 2:
        write_entry(gray_marker, b"")
        return "gray", ""
    rgb = to_float(picture.pixels)
    if ab_spread(rgb) < MIN_AB_STD:
        write_entry(gray_marker, b"")
        return "gray", ""
    if min(rgb.shape[:2]) > side:
        rgb = resize_short_side(rgb, side)
    save_array(entry, (rgb * 255 + 0.5).astype(np.uint8))
    return "ok", ""


class CachedImages(Sequence):
    """The cached images of a set, loaded from disk when indexed (never all held in memory)."""

    def __init__(self, entries: list[Path]):
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [load_array(e) for e in self.entries[i]]
        return load_array(self.entries[int(i)])


@dataclass
class ImageSet:
    digests: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    entries: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.digests)

    @property
    def images(self) -> CachedImages:
        return CachedImages(self.entries)

    def add(self, digest: str, file: DataFile, entry: Path) -> None:
        self.digests.append(digest)
        self.paths.append(file.path)
        self.sources.append(file.source)
        self.entries.append(entry)

    def source_indices(self) -> dict[str, np.ndarray]:
        """Indices of the images of each source, in set order."""
        names = np.array(self.sources, dtype=object)
        return {s: np.flatnonzero(names == s) for s in dict.fromkeys(self.sources)}


def _hash_chunk(paths: list[Path]) -> list[tuple[str | None, int, int]]:
    """(digest, or None if unreadable; pixels; long side) per file; sizes 0 where Pillow cannot
    read the header (the decode will say why)."""
    out = []
    for p in paths:
        try:
            digest = content_hash(p)
        except OSError:
            out.append((None, 0, 0))
            continue
        try:
            with open(p, "rb") as f, open_image(f) as im:
                w, h = im.size
        except Exception:  # noqa: BLE001 - any file that is not a supported image
            w = h = 0
        out.append((digest, w * h, max(w, h)))
    return out


def _decode_chunk(items: list[tuple[Path, str]], side: int, cache_dir: Path) -> list[tuple[str, str]]:
    return [cache_image(p, d, side, cache_dir) for p, d in items]


def _in_chunks(items: list, fn: Callable, jobs: int, progress: Callable[[int], None] | None, *args) -> list:
    """``fn(chunk, *args)`` over chunks of ``items`` (in worker processes when there are many),
    results flattened in order; ``progress(n)`` after each chunk. The worker processes end with
    the work (none is left running, idle, after it)."""
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    out: list = []

    def collect(results: Iterable) -> None:
        for chunk, result in zip(chunks, results, strict=True):
            out.extend(result)
            if progress is not None:
                progress(len(chunk))

    if jobs > 1 and len(items) >= PARALLEL_FROM:
        from joblib.externals.loky import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=jobs)
        try:
            futures = [pool.submit(fn, chunk, *args) for chunk in chunks]
            collect(f.result() for f in futures)
        except BaseException:
            pool.shutdown(wait=True, kill_workers=True)  # a Ctrl-C or a failure stops them at once
            raise
        pool.shutdown(wait=True)
    else:
        collect(fn(chunk, *args) for chunk in chunks)
    return out


def _cache_bytes(pixels: int, long_side: int, side: int) -> int:
    """Bytes an image of ``pixels`` (long side ``long_side``) takes in the cache at ``side``."""
    if not pixels:
        return 0
    short = pixels // long_side
    if short <= side:
        return pixels * 3
    return side * round(long_side * side / short) * 3


def check_cache_dir(cache_dir: Path) -> None:
    """:class:`UsageError` unless ``cache_dir`` is a folder this process can write in (created
    if missing)."""
    if cache_dir.exists() and not cache_dir.is_dir():
        raise UsageError(f"--cache-dir {cache_dir}: not a folder")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=cache_dir):
            pass
    except OSError as exc:
        raise UsageError(f"--cache-dir {cache_dir}: cannot write there ({exc.strerror or exc})") from None


def check_disk(cache_dir: Path, needed: int) -> None:
    """Refuse before starting when the cache would not fit on its disk."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cache_dir).free
    if needed + DISK_MARGIN > free:
        raise UsageError(
            f"the image cache needs about {needed / 1e9:.1f} GB more in {cache_dir}, but only "
            f"{free / 1e9:.1f} GB are free (keeping {DISK_MARGIN / 1e9:.0f} GB spare): free some space "
            "or choose another --cache-dir"
        )


def load_images(
    files: Iterable[DataFile],
    side: int,
    cache_dir: Path,
    val_fraction: float,
    max_images: int | None = None,
    val_limit: int | None = None,
    jobs: int = 1,
    on_event: Callable[..., None] | None = None,
) -> tuple[ImageSet, ImageSet, DataSummary]:
    """Hash, split and cache the training and validation images.

    Files marked ``is_val`` are validation; the others are split by ``val_fraction`` of the
    hash range. ``max_images`` keeps the first N training images in hash order (a stable subset);
    ``val_limit`` keeps at most N validation images, taken in turn from each source (hash order
    within each), so every source is represented. ``on_event(kind, **info)`` reports progress:
    ``("phase", name=, total=[, done=])`` (``done``: found in the cache already) then
    ``("advance", n=)`` for hashing and decoding.
    """
    emit = on_event or (lambda *a, **k: None)
    summary = DataSummary()
    files = list(files)
    emit("phase", name="hashing", total=len(files))
    hashed = _in_chunks([f.path for f in files], _hash_chunk, jobs, lambda n: emit("advance", n=n))
    entries: dict[str, tuple[DataFile, bool, int, int]] = {}
    for f, (digest, pixels, long_side) in zip(files, hashed, strict=True):
        if digest is None:
            summary.skipped_unreadable += 1
            summary.problems.append(f"{f.path}: cannot read")
            continue
        if pixels and long_side * long_side > MAX_ASPECT * pixels:  # long / short > MAX_ASPECT
            summary.skipped_shape += 1
            summary.problems.append(
                f"{f.path}: {long_side} x {pixels // long_side} pixels, thinner than 1:{MAX_ASPECT}"
            )
            continue
        is_val = f.is_val or in_validation(digest, val_fraction)
        # Byte-identical duplicates are used once; a photo that is also a validation photo is
        # validation only (never trained on under another name).
        if digest not in entries or (is_val and not entries[digest][1]):
            entries[digest] = (f, is_val, pixels, long_side)
    summary.found = len(entries) + summary.skipped_unreadable
    order = sorted(entries)
    train_digests = [d for d in order if not entries[d][1]]
    if max_images is not None:
        train_digests = train_digests[:max_images]
    val_digests = _round_robin([d for d in order if entries[d][1]], lambda d: entries[d][0].source, val_limit)
    wanted = train_digests + val_digests

    todo = [d for d in wanted if not _known(cache_dir, d, side)]
    check_disk(cache_dir, sum(_cache_bytes(entries[d][2], entries[d][3], side) for d in todo))
    emit("phase", name="decoding into the cache", total=len(wanted), done=len(wanted) - len(todo))
    decoded = dict(
        zip(
            todo,
            _in_chunks(
                [(entries[d][0].path, d) for d in todo],
                _decode_chunk,
                jobs,
                lambda n: emit("advance", n=n),
                side,
                cache_dir,
            ),
            strict=True,
        )
    )
    train, val = ImageSet(), ImageSet()
    for d in wanted:
        file, is_val = entries[d][0], entries[d][1]
        status, detail = decoded.get(d) or cache_image(file.path, d, side, cache_dir)
        summary.decoded += status == "ok"
        if status == "gray":
            summary.skipped_gray += 1
        elif status == "unreadable":
            summary.skipped_unreadable += 1
            summary.problems.append(f"{file.path}: {detail}")
        else:
            (val if is_val else train).add(d, file, cache_entry(cache_dir, d, side))
    summary.train, summary.val = len(train), len(val)
    for name in dict.fromkeys(f.source for f in files):
        summary.sources[name] = {"train": train.sources.count(name), "val": val.sources.count(name)}
    return train, val, summary


def _known(cache_dir: Path, digest: str, side: int) -> bool:
    entry = cache_entry(cache_dir, digest, side)
    return any(p.exists() for p in (entry, entry.with_suffix(".gray"), entry.with_suffix(".unreadable")))


def _round_robin(digests: list[str], source_of: Callable[[str], str], limit: int | None) -> list[str]:
    """At most ``limit`` digests, one from each source in turn (all of them if ``limit`` is None)."""
    if limit is None or len(digests) <= limit:
        return digests
    groups: dict[str, list[str]] = {}
    for d in digests:
        groups.setdefault(source_of(d), []).append(d)
    picked: list[str] = []
    for rank in range(max(len(g) for g in groups.values())):
        for group in groups.values():
            if rank < len(group) and len(picked) < limit:
                picked.append(group[rank])
    return sorted(picked)


def epoch_indices(images: ImageSet, seed: int, epoch: int, max_per_source: int | None = None) -> np.ndarray:
    """The training order of ``epoch``: a permutation of the set, or, with ``max_per_source``,
    of at most that many images from each source.

    A capped source is walked through a shuffled order, ``max_per_source`` images an epoch,
    reshuffled each time it has been seen whole: every image is seen before any is seen twice.
    """
    rng = np.random.default_rng([seed, epoch, 1 << 31])
    if max_per_source is None:
        return rng.permutation(len(images))
    chosen = [
        idx if len(idx) <= max_per_source else _cycle(idx, max_per_source, epoch, [seed, s])
        for s, idx in enumerate(images.source_indices().values())
    ]
    return rng.permutation(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def _cycle(idx: np.ndarray, per_epoch: int, epoch: int, key: list[int]) -> np.ndarray:
    """Epoch ``epoch``'s slice of the endless sequence of shuffles of ``idx``."""
    positions = np.arange(epoch * per_epoch, (epoch + 1) * per_epoch)
    passes = positions // len(idx)
    out = np.empty(per_epoch, np.int64)
    for p in np.unique(passes):
        here = passes == p
        shuffled = np.random.default_rng([*key, int(p), 1 << 30]).permutation(idx)
        out[here] = shuffled[positions[here] % len(idx)]
    return out


def epoch_size(images: ImageSet, max_per_source: int | None = None) -> int:
    if max_per_source is None:
        return len(images)
    return sum(min(len(i), max_per_source) for i in images.source_indices().values())


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
    """The central square (side: the short side), resized to size x size. Cropped first, so
    memory is bounded by ``size`` whatever the aspect ratio."""
    h, w = img.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return lab.resize(img[y : y + side, x : x + side], size, size)


def training_batch(
    images: Sequence[np.ndarray],
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
        lum, ab = lab.lab_pair(np.ascontiguousarray(crop), norm)
        ls.append(lum[None])
        abs_.append(ab)
        flips.append(flip)
    return np.stack(ls), np.stack(abs_), np.array(flips)


def validation_arrays(
    images: Sequence[np.ndarray], size: int, norm: lab.Normalisation
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic centre crops of the validation images: L (N, 1, s, s), ab (N, 2, s, s)."""
    pairs = [
        lab.lab_pair(np.ascontiguousarray(center_crop(images[i], size)), norm) for i in range(len(images))
    ]
    return np.stack([p[0][None] for p in pairs]), np.stack([p[1] for p in pairs])
