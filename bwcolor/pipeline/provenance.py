"""Which model made a file, read back from the provenance tag bwcolor writes into its outputs
(EXIF/XMP Software of a photo, the container's comment of a film): how a rerun knows an output
of another model, and an input that is bwcolor's own output."""

from __future__ import annotations

from pathlib import Path

from bwcolor.files.decode import open_image
from bwcolor.files.ffmpeg import av_module, file_url
from bwcolor.files.formats import is_video_path
from bwcolor.files.metadata import SOFTWARE, read_metadata

#: The container tag of a film that names bwcolor and the model.
PROVENANCE_TAG = "comment"


def film_made_by(path: Path) -> str | None:
    """The model that an existing bwcolor film names in its provenance tag, or None."""
    try:
        with av_module().open(file_url(path), "r", metadata_errors="replace") as container:
            text = container.metadata.get(PROVENANCE_TAG, "")
    except Exception:  # noqa: BLE001 - an unreadable output: nothing to compare
        return None
    if not text.startswith("bwcolor ") or ", model " not in text:
        return None
    return text.split(", model ", 1)[1]


def input_made_by(path: Path) -> str | None:
    """The bwcolor provenance of an input (photo or film) from its header alone, or None."""
    if is_video_path(path):
        model = film_made_by(path)
        return None if model is None else f"bwcolor, model {model}"
    try:
        with open(path, "rb") as f, open_image(f) as im:
            return read_metadata(im).colorized_by()
    except Exception:  # noqa: BLE001 - unreadable: the run itself will say why
        return None


def made_by(output: Path) -> str | None:
    """The model an existing output's provenance tag names (``name (checkpoint file)``), or None
    (no tag: written with --no-provenance, or not by bwcolor)."""
    if is_video_path(output):
        return film_made_by(output)
    try:
        with open(output, "rb") as f, open_image(f) as im:
            software = im.getexif().get(SOFTWARE) or getattr(im, "tag_v2", {}).get(SOFTWARE)
    except Exception:  # noqa: BLE001 - an unreadable output: nothing to compare
        return None
    if not isinstance(software, str) or not software.startswith("bwcolor ") or ", model " not in software:
        return None
    maker = software.split(", model ", 1)[1]
    if maker.isascii() and "\\" in maker:  # a TIFF's ASCII-escaped name (see metadata.ascii_text)
        maker = maker.encode("ascii").decode("unicode_escape")
    return maker
