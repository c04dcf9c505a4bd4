"""The wheel: built from the repository and installed (not editable), it colorizes offline with
the shipped default model, from any folder."""

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from bwcolor.files.decode import read_image
from tests.conftest import gradient_rgb, gray_of, write

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_the_weights_and_colorizes(tmp_path):
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
             str(ROOT)]  # fmt: skip
    subprocess.run(build, check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = wheels.glob("bwcolor-*.whl")
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    assert {p.name for p in (target / "bwcolor" / "weights").glob("*.safetensors")} == {
        "baseline.safetensors", "effnet_unet.safetensors", "fusion.safetensors",
    }  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "photo.jpg", gray_of(gradient_rgb(48, 64)))
    env = {k: v for k, v in os.environ.items() if k != "BWCOLOR_WEIGHTS_DIR"}
    env["PYTHONPATH"] = str(target)  # the installed wheel, beside this venv's torch
    code = "import bwcolor, sys; print(bwcolor.__file__); sys.argv[1:] = ['colorize', 'photo.jpg', '-o', 'out', '-q']; "
    code += "from bwcolor.cli import run; run()"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target / "bwcolor" / "__init__.py")  # not the checkout's
    assert read_image(elsewhere / "out" / "photo.jpg").pixels.shape == (48, 64, 3)
    with Image.open(elsewhere / "out" / "photo.jpg") as im:
        assert "model effnet_unet (effnet_unet.safetensors)" in im.getexif()[0x0131]  # the shipped default
