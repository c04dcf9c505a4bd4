"""Every shipped checkpoint under weights/ loads by its model name and colorizes a photo."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from bwcolor import colorize_image, load_model
from bwcolor.lab import gray_to_lightness, rgb_to_lab
from tests.conftest import gradient_rgb, gray_of

WEIGHTS = sorted((Path(__file__).resolve().parent.parent / "weights").glob("*.safetensors"))


def test_the_three_models_are_shipped():
    assert [p.stem for p in WEIGHTS] == ["baseline", "effnet_unet", "fusion"]


@pytest.mark.parametrize("path", WEIGHTS, ids=[p.stem for p in WEIGHTS])
def test_a_shipped_model_colorizes_a_photo(path):
    model = load_model(path.stem)
    assert Path(model.checkpoint["path"]).resolve() == path.resolve()
    gray = gray_of(gradient_rgb(96, 128))
    rgb = colorize_image(model, gray)
    assert rgb.shape == (96, 128, 3) and rgb.dtype == np.uint8
    lab = rgb_to_lab(rgb.astype(np.float32) / 255)
    assert np.abs(lab[..., 0] - gray_to_lightness(gray.astype(np.float32) / 255)).mean() < 1.5  # L kept
    assert np.hypot(lab[..., 1], lab[..., 2]).mean() > 1.0  # and colour added


@pytest.mark.parametrize("path", WEIGHTS, ids=lambda p: p.name)
def test_a_shipped_header_names_no_folder_of_the_machine_that_trained_it(path):
    """Paths in the header are relative to the data and run folders (docs/models.md)."""
    with safe_open(str(path), framework="pt") as f:
        header = json.dumps(f.metadata())
    absolute = re.findall(r'(?<![\\w.])/(?:work|home|root|tmp|Users|mnt)/[^"\\ ]*', header)
    assert not absolute, absolute
