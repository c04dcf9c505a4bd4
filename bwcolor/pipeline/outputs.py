"""Where outputs go by default, and why a file is skipped: the reasons the summary counts
(one line for all of them) rather than listing file by file. Light: the command line imports it
before torch."""

from pathlib import Path

#: Where ``bwcolor colorize`` writes unless told (``-o``, ``--suffix``).
DEFAULT_OUTPUT = Path("colorized")

#: An output of this name exists (a rerun resumes): skipped unless --overwrite.
OUTPUT_EXISTS = "output exists"
#: An existing output whose provenance names another model than this run's.
OTHER_MODEL = "the output was made by another model"
#: An input that bwcolor's provenance tag marks as its own output.
COLORIZED = "already colorized by bwcolor"
#: An input that is already a colour (or toned) photograph, with ``--colour-inputs skip``.
ALREADY_COLOUR = "already a colour or toned photo"
#: Skips counted in the summary line instead of a note per file.
COUNTED_SKIPS = (OUTPUT_EXISTS, OTHER_MODEL, COLORIZED, ALREADY_COLOUR)
