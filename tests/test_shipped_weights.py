"""Every shipped checkpoint under weights/ loads by its model name and colorizes a photo."""

from pathlib import Path

import numpy as np
import pytest

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
