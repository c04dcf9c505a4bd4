"""Progress as the terminal shows it: what the library reports as it goes in, bars and lines
out. :class:`ColorizeProgress` for ``colorize`` (files and a film's frames),
:class:`TrainingProgress` for ``train`` (bars on a terminal, plain timed lines into a log file,
and the per-epoch lines)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bwcolor.cli.shared import printable, say
from bwcolor.pipeline.outputs import COUNTED_SKIPS


class ColorizeProgress:
    """A bar of the files of a ``colorize`` run (and one of the current film's frames), and a
    line for each file that failed, was skipped for a reason worth naming, or has a note.
    ``quiet``: failures only; ``verbose``: also the skips the summary only counts."""

    def __init__(self, console: Console, quiet: bool = False, verbose: bool = False):
        self.quiet, self.verbose = quiet, verbose
        self.bars = Progress(
            TextColumn("[bold]colorizing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=quiet, transient=False,
        )  # fmt: skip
        self.console = self.bars.console
        self.task = self.frames_task = None

    def start(self, jobs: int, planned) -> None:
        """The run is planned: ``jobs`` files to colorize."""
        if planned.removed_temporaries and not self.quiet:
            say(
                self.console,
                f"bwcolor: note: removed {planned.removed_temporaries} partial file(s) left by an interrupted run",
            )
        if jobs:
            self.bars.start()
            self.task = self.bars.add_task("colorize", total=jobs, rate="")

    def result(self, result) -> None:
        """One file settled."""
        if result.status in ("planned", "unused"):
            if not self.quiet and result.status == "planned":
                how = f" ({result.message})" if result.message else ""
                say(self.console, f"would colorize: {result.source} -> {result.output}{how}")
            elif not self.quiet:
                say(self.console, f"bwcolor: note: {result.source}: {result.message}")
            return
        if result.status == "failed":
            say(self.console, f"bwcolor: error: {result.source}: {result.message}")
        elif (
            result.status == "skipped"
            and not self.quiet
            and (self.verbose or not result.message.startswith(COUNTED_SKIPS))
        ):
            say(self.console, f"bwcolor: note: {result.source}: {result.message}")  # the rest: counted
        for note in result.notes:
            say(self.console, f"bwcolor: note: {result.source}: {note}")
        if self.task is not None:  # a file of the run (skips and planning failures come before it)
            elapsed = self.bars.tasks[0].elapsed or 0
            done = self.bars.tasks[0].completed + 1
            self.bars.update(self.task, advance=1, rate=f"{done / elapsed:.2f} files/s" if elapsed else "")

    def video(self, source: str, frames: int) -> None:
        """A film starts: a bar of its frames, in place of the last film's."""
        if self.frames_task is not None:
            self.bars.remove_task(self.frames_task)
        self.frames_task = self.bars.add_task("frames", total=frames or None, rate="frames")

    def frames(self, n: int) -> None:
        if self.frames_task is not None:
            self.bars.update(self.frames_task, advance=n)

    def stop(self) -> None:
        self.bars.stop()


class TrainingProgress:
    """Draws the events of one training run on ``console``; ``quiet``: warnings and nothing else.
    A context manager (the bars live while it is open); :meth:`event` is the run's ``on_event``."""

    def __init__(self, console: Console, quiet: bool = False):
        self.bars = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, disable=quiet,
        )  # fmt: skip
        self.console = self.bars.console
        self.task = None
        self.plain = LogLines(console) if not quiet and not console.is_terminal else None

    def __enter__(self) -> TrainingProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.__exit__(*exc)

    def print(self, text: str) -> None:
        self.console.print(text, markup=False)

    def bar(self, description: str, total: int, done: int = 0) -> None:
        """A new bar replaces the last one."""
        if self.task is not None:
            self.bars.update(self.task, visible=False)
        self.task = self.bars.add_task(description, total=total, completed=done, info="")

    def event(self, kind: str, **ev) -> None:
        if kind == "warning":  # shown even when quiet: it is about the result
            say(self.console, f"bwcolor: warning: {ev['message']}")
            return
        if self.plain is not None:
            self.plain.event(kind, ev)
        if kind == "phase":
            self.bar(ev["name"], ev["total"], ev.get("done", 0))
        elif kind == "advance":
            self.bars.advance(self.task, ev["n"])
        elif kind == "checkpoint":
            self.bars.update(self.task, info=f"checkpoint saved {time.strftime('%H:%M')}")
        elif kind == "data":
            self.data(ev["summary"])
        elif kind == "epoch_start":
            self.bar(f"epoch {ev['epoch'] + 1}/{ev['epochs']}", ev["batches"], ev["done"])
        elif kind == "batch":
            info = f"loss {ev['loss']:.5f} {ev['images_per_second']:.1f} img/s"
            self.bars.update(self.task, advance=1, info=info)
        elif kind == "early_stop":
            self.print(f"stopping early: no better validation loss in the last {ev['patience']} epochs")
        elif kind == "epoch_end":
            self.print(epoch_line(ev["record"], ev["improved"]))

    def data(self, s) -> None:
        """What the data held: counts, each source's split, and the files skipped."""
        self.print(
            f"data: {s.train} train, {s.val} validation; skipped {s.skipped_gray} grayscale or "
            f"near-grayscale, {s.skipped_unreadable} unreadable"
            + (f", {s.skipped_shape} too thin" if s.skipped_shape else "")
            + f"; decoded {s.decoded} (rest from cache)"
        )
        if len(s.sources) > 1:
            for name, counts in s.sources.items():
                self.print(f"  {printable(name)}: {counts['train']} train, {counts['val']} validation")
        for problem in s.problems:
            say(self.console, f"bwcolor: skipped: {problem}")


def epoch_line(r: dict, improved: bool) -> str:
    """``epoch N: train ... val ...`` with each validation figure the record holds."""
    val_text = f"{r['val_loss']:.5f}" if r["val_loss"] is not None else "n/a"
    if r.get("val_mse") is not None and r["val_mse"] != r["val_loss"]:
        val_text += f"  val MSE {r['val_mse']:.5f}"
    if r.get("val_ciede2000") is not None:
        val_text += f"  val CIEDE2000 {r['val_ciede2000']:.2f}"
    if r.get("val_loss_hints") is not None:
        val_text += f"  val with hints {r['val_loss_hints']:.5f}"
    return (
        f"epoch {r['epoch']}: train {r['train_loss']:.5f}  val {val_text}  lr {r['lr']:.2e}  "
        f"{r['images_per_second']} img/s  {r['seconds']:.0f} s" + ("  (best, saved)" if improved else "")
    )


class LogLines:
    """Progress as plain lines, for a training run whose stderr goes to a log file (where a
    progress bar would only be drawn when it ends): each phase's start and end, then a line
    every ``every`` seconds and at each checkpoint, with counts, rate and time left."""

    def __init__(self, console: Console, every: float = 120.0):
        self.console, self.every, self.name, self.total, self.done, self.first = console, every, "", 0, 0, 0
        self.t0 = self.shown = 0.0

    def start(self, name: str, total: int, done: int = 0, where: str = "") -> None:
        """A phase begins with ``done`` of ``total`` already done (``where``: how, e.g. from the
        cache); time left counts only what this phase does."""
        self.name, self.total, self.done, self.first = name, total, done, done
        self.t0 = self.shown = time.monotonic()
        self.say(f"{done}/{total}" + (f" {where}" if done and where else ""))

    def say(self, text: str) -> None:
        say(self.console, f"{time.strftime('%H:%M:%S')} {self.name}: {text}")
        self.shown = time.monotonic()

    def line(self, extra: str = "") -> None:
        elapsed, left = time.monotonic() - self.t0, ""
        if self.done > self.first and self.total > self.done:
            left = f", {duration(elapsed / (self.done - self.first) * (self.total - self.done))} left"
        self.say(f"{self.done}/{self.total}{left}{extra}")

    def event(self, kind: str, ev: dict) -> None:
        if kind == "phase":
            self.start(ev["name"], ev["total"], ev.get("done", 0), "found in the cache")
        elif kind == "advance":
            self.done += ev["n"]
            if self.done >= self.total:
                self.say(f"{self.total}/{self.total} in {duration(time.monotonic() - self.t0)}")
            elif time.monotonic() - self.shown >= self.every:
                self.line()
        elif kind == "epoch_start":
            self.start(f"epoch {ev['epoch'] + 1}/{ev['epochs']}, batches", ev["batches"], ev["done"])
        elif kind == "batch":
            self.done += 1
            if time.monotonic() - self.shown >= self.every:
                self.line(f", loss {ev['loss']:.4f}, {ev['images_per_second']:.1f} img/s")
        elif kind == "checkpoint":
            self.line(", resumable checkpoint saved")


def duration(seconds: float) -> str:
    """``42 s``, ``7 min`` or ``1 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
