"""Turning command-line inputs (files, folders, glob patterns) into source images.

Each source remembers the folder it was found under (its base) so that outputs mirror the
input tree: ``photos/1920/a.jpg`` found under ``photos/`` is written to ``OUT/1920/a.jpg``.
Glob patterns are expanded here (so quoted globs work); their base is the part before the
first wildcard. Extensions are matched case-insensitively, in globs as in folders (``*.jpg``
finds ``X.JPG``); the rest of a pattern is matched as the file system spells it.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from bwcolor.files.formats import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, is_image_path, is_video_path
from bwcolor.files.hints import is_hint_file, photo_stem_of


@dataclass(frozen=True)
class Source:
    path: Path
    base: Path

    @property
    def relative(self) -> Path:
        return self.path.relative_to(self.base)


@dataclass(frozen=True)
class InputProblem:
    input: str
    message: str
    status: str = "failed"  # or "unused": a hint file without its photo (a note, not a failure)


#: Why a hint file named as an input is not colorized.
HINT_NOT_PHOTO = "a colour-hint file, not a photo: it is read for the photo of the same name beside it"


def unused_hint_files(folder: Path, names: list[str], checked: list[str] | None = None) -> list[InputProblem]:
    """The hint files among ``checked`` (default: all of ``names``, the files of ``folder``)
    without a photo or film of their name beside them: each one note."""
    stems = {Path(n).stem for n in names if is_image_path(Path(n)) or is_video_path(Path(n))}
    return [
        InputProblem(
            str(folder / n),
            "a hint file without its photo (no photo of that name beside it): not used",
            "unused",
        )  # fmt: skip
        for n in (names if checked is None else checked)
        if is_hint_file(n) and photo_stem_of(Path(n)) not in stems
    ]


def _walk(folder: Path, exclude: Path | None, wanted, unused: list[InputProblem]) -> list[Path]:
    """The files under ``folder`` whose names are ``wanted``, recursively, sorted; hint files
    without their photo go to ``unused``.

    Symlinked folders are followed, each real folder once: a symlink loop ends there.
    """
    found = []
    visited = {_resolved(folder)}
    for root, dirs, files in os.walk(folder, followlinks=True):
        root_path = Path(root)
        keep = []
        for d in sorted(dirs):
            real = _resolved(root_path / d)
            if real != exclude and real not in visited:
                visited.add(real)
                keep.append(d)
        dirs[:] = keep
        found.extend(root_path / f for f in sorted(files) if wanted(Path(f)))
        unused.extend(unused_hint_files(root_path, sorted(files)))
    return found


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _inside(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    real = _resolved(path)
    return real == folder or folder in real.parents


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    base = []
    for part in parts:
        if glob.has_magic(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def _any_case_extension(pattern: str) -> str:
    """``pattern`` with a literal extension matched in any case (``*.jpg`` also finds
    ``X.JPG``), as folders are searched; the rest of the pattern is as given."""
    head, dot, ext = pattern.rpartition(".")
    if not dot or not ext.isalnum() or not ext.isascii() or "/" in ext or os.sep in ext:
        return pattern
    return head + dot + "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in ext)


def _climbs_out(match: Path, base: Path) -> bool:
    """Whether a glob match lies outside the pattern's base (``in/*/../../*.jpg``): its output
    then mirrors from its own folder, so that it goes into the output folder, never beside the
    input."""
    try:
        return ".." in match.relative_to(base).parts
    except ValueError:
        return True


def expand_inputs(
    inputs: list[str], recursive: bool = True, exclude: Path | None = None, videos: bool = False
) -> tuple[list[Source], list[InputProblem]]:
    """Expand inputs into unique image sources (and video sources, if ``videos``), and the inputs
    that gave none (with the cause).

    ``exclude`` (the output folder) is never searched, so outputs are not taken as inputs.
    """
    extensions = IMAGE_EXTENSIONS + (VIDEO_EXTENSIONS if videos else ())
    kinds = "images or videos" if videos else "images"
    kind = "an image or video" if videos else "an image"

    def wanted(path: Path) -> bool:
        return not is_hint_file(path) and (is_image_path(path) or (videos and is_video_path(path)))

    exclude = _resolved(exclude) if exclude is not None else None
    sources: list[Source] = []
    problems: list[InputProblem] = []
    seen: set[Path] = set()

    def add(path: Path, base: Path) -> None:
        key = _resolved(path)
        if key not in seen:
            seen.add(key)
            sources.append(Source(path, base))

    def add_folder(folder: Path, base: Path, label: str) -> int:
        if recursive:
            files = _walk(folder, exclude, wanted, problems)
        else:
            names = sorted(p.name for p in folder.iterdir() if p.is_file())
            files = [folder / n for n in names if wanted(Path(n))]
            problems.extend(unused_hint_files(folder, names))
        for f in files:
            add(f, base)
        if not files:
            problems.append(InputProblem(label, f"no {kinds} found ({', '.join(extensions)})"))
        return len(files)

    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            add_folder(path, path, raw)
        elif path.is_file() or path.is_symlink():
            if not path.exists():
                problems.append(InputProblem(raw, "broken symbolic link"))
            elif is_hint_file(path):
                problems.append(InputProblem(raw, HINT_NOT_PHOTO))
            elif wanted(path):
                add(path, path.parent)
            else:
                problems.append(
                    InputProblem(raw, f"not {kind} file name (extensions: {', '.join(extensions)})")
                )
        elif glob.has_magic(raw):
            base = _glob_base(raw)
            matches = sorted(glob.glob(_any_case_extension(raw), recursive=True))
            matches = [m for m in matches if not _inside(Path(m), exclude)]  # a rerun's own outputs
            images = [Path(m) for m in matches if Path(m).is_file() and wanted(Path(m))]
            for hint in (Path(m) for m in matches if is_hint_file(m) and Path(m).is_file()):
                siblings = [p.name for p in hint.parent.iterdir() if p.is_file()]
                problems.extend(unused_hint_files(hint.parent, siblings, [hint.name]))
            for m in images:
                add(m, m.parent if _climbs_out(m, base) else base)
            folders = [Path(m) for m in matches if Path(m).is_dir()]
            found = len(images) + sum(
                add_folder(f, f if _climbs_out(f, base) else base, str(f)) for f in folders
            )
            if not matches:
                problems.append(InputProblem(raw, "no files match this pattern"))
            elif not found and not folders:
                problems.append(InputProblem(raw, f"no {kinds} match this pattern"))
        else:
            problems.append(InputProblem(raw, "no such file or directory"))
    return sources, problems
