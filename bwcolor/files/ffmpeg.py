"""FFmpeg, as the PyAV wheel (``av``) brings it: no system FFmpeg is used."""

from __future__ import annotations

import os
from pathlib import Path


def av_module():
    """PyAV, imported when a film is first met, with FFmpeg's own messages silenced (its errors
    come as exceptions)."""
    import av

    av.logging.set_level(av.logging.PANIC)
    return av


def file_url(path: str | Path) -> str:
    """``path`` as FFmpeg must take it: a file, never a URL (``Take:1.mp4``, ``concat:a|b``)."""
    return "file:" + os.path.abspath(path)
