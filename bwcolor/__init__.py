"""bwcolor: colorize black-and-white photographs with deep learning.

>>> from bwcolor import load_model, colorize_image
>>> model = load_model("fusion")            # or a checkpoint path
>>> rgb = colorize_image(model, gray_array)  # same size and dtype as the input
>>> colorize_video(model, "film.mp4", "film_colour.mp4")  # sound, timing and size kept
>>> bwcolor.train(data=["photos/"], output="mine.safetensors", model="fusion", epochs=10)
"""

__version__ = "0.1.0"

# The public API is imported lazily so that `bwcolor --help` does not wait for torch.
_API = {
    "colorize_image": "bwcolor.image.colorize",
    "colorize_paths": "bwcolor.pipeline.folders",
    "colorize_video": "bwcolor.pipeline.films",
    "create_model": "bwcolor.models",
    "list_models": "bwcolor.models",
    "load_model": "bwcolor.models.checkpoint",
    "save_checkpoint": "bwcolor.models.checkpoint",
    "train": "bwcolor.training.trainer",
    "TrainConfig": "bwcolor.training.trainer",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'bwcolor' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The lazy public names too (``dir(bwcolor)``, completion in a notebook)."""
    return sorted({*globals(), *_API})
