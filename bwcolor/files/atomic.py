"""Atomic writes: a file appears whole or not at all, and what killed runs leave is cleaned up.

Used by every writer of bwcolor: outputs, checkpoints, the training cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".bwcolor-tmp"
_HOST = socket.gethostname().replace(".", "_")


def write_atomic(
    path: Path, data: bytes | Callable[[BinaryIO], None], durable: bool = True, replace: bool = True
) -> None:
    """Write ``data`` (bytes, or a function writing into a file) to ``path`` through a temporary
    file in the same folder, then rename (see :func:`atomic_path`).

    ``durable=False`` skips the fsync: for caches, which a power cut may lose but never corrupt
    (the rename is still atomic), and where 100,000 fsyncs would cost minutes.
    """
    with atomic_path(path, durable, replace) as tmp, open(tmp, "wb") as f:
        data(f) if callable(data) else f.write(data)


class AppearedMeanwhile(FileExistsError):
    """``replace=False``, and a file of that name appeared while this one was being written."""


@contextlib.contextmanager
def atomic_path(path: Path, durable: bool = True, replace: bool = True) -> Iterator[str]:
    """The name of a new, empty temporary file beside ``path``, for a writer that wants a name
    (a video muxer, tifffile); when the block ends it becomes ``path`` (after an fsync, unless
    ``durable`` is False), or, if the block raised, it is removed.

    ``replace=False``: a file that appeared at ``path`` meanwhile (another run's) is kept, and
    :class:`AppearedMeanwhile` raised: the file is linked into place, which fails if the name
    is taken (where the file system has no hard links, checked just before the rename).

    The temporary file is named ``.<name>.<host>-<pid>.<random>.bwcolor-tmp``, so that one left
    by a killed process can be recognised and removed (:func:`remove_stale_temporaries`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        os.close(fd)
        yield tmp
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _place_new(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _place_new(tmp: str, path: Path) -> None:
    """Rename ``tmp`` to ``path`` unless ``path`` exists (:class:`AppearedMeanwhile`)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise AppearedMeanwhile(f"{path} appeared while it was being written (another run?)") from None
    except OSError:  # no hard links here: the next best, a check just before the rename
        if os.path.lexists(path):
            raise AppearedMeanwhile(f"{path} appeared while it was being written (another run?)") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


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
