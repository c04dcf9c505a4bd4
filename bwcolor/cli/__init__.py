"""The ``bwcolor`` command line: a thin Typer layer over the core package, one module per command
(:mod:`bwcolor.cli.shared` holds what they share and the entry point, :func:`run`)."""

# isort: off
# The commands register themselves in this order, the order of the help's list.
from bwcolor.cli import colorize, train, evaluate, benchmark, edit, models  # noqa: F401

# isort: on
from bwcolor.cli.evaluate import _eval_paths
from bwcolor.cli.shared import app, printable, run

__all__ = ["_eval_paths", "app", "printable", "run"]
