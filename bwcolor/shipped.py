"""The shipped models: their names, the default, and where their weights are (no torch needed).

The weights live in ``weights/`` at the top of the repository, and travel inside the wheel as the
package data of ``bwcolor.weights``; ``$BWCOLOR_WEIGHTS_DIR`` overrides both.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The models whose trained weights ship with bwcolor, in the order tables show them.
SHIPPED_MODELS = ("baseline", "fusion", "effnet_unet")
#: What ``bwcolor colorize`` and ``bwcolor train`` use unless told otherwise.
DEFAULT_MODEL = "effnet_unet"
WEIGHTS_ENV = "BWCOLOR_WEIGHTS_DIR"


def weights_dir() -> Path:
    """Folder of the shipped weights: $BWCOLOR_WEIGHTS_DIR; else, in a checkout (or an editable
    install), ``weights/`` at the top of the repository; else, installed from a wheel, the
    package ``bwcolor.weights`` that the wheel maps that folder to."""
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent / "weights"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "weights"
