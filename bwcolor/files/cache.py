"""Entries of the training cache (decoded photos, backbone embeddings): numpy arrays written
atomically, so a concurrent or interrupted run never sees half a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bwcolor.errors import UsageError
from bwcolor.files.atomic import write_atomic


def save_array(entry: Path, array: np.ndarray) -> None:
    """Write ``array`` as the cache entry ``entry`` (a .npy file)."""
    write_entry(entry, lambda f: np.save(f, array, allow_pickle=False))


def write_entry(entry: Path, data) -> None:
    """:func:`write_atomic` for the cache: a write that fails (disk full) is a
    :class:`UsageError` naming the cache."""
    try:
        write_atomic(entry, data, durable=False)
    except OSError as exc:
        raise UsageError(
            f"cannot write the image cache in {entry.parent.parent}: {exc.strerror or exc}; "
            "free some space or choose another --cache-dir"
        ) from None


def load_array(entry: Path) -> np.ndarray:
    return np.load(entry, allow_pickle=False)
