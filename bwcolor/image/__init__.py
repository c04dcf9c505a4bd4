"""One image in memory: the network's colour for it, and colour hints spread over that.
Imports models (their hooks) and the ground; no files."""
