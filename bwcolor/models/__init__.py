"""The networks, built by name: each in its own file with its config and training hooks next to
its definition (baseline, fusion, effnet_unet, gray), the registry that names them, and the
checkpoint format that saves and loads them.

>>> from bwcolor.models import create_model
>>> net = create_model("baseline")
"""

# Importing the model files registers their models.
from bwcolor.models import baseline, effnet_unet, fusion, gray  # noqa: F401
from bwcolor.models.registry import create_model, list_models, model_class, register_model, set_normalisation

__all__ = ["create_model", "list_models", "model_class", "register_model", "set_normalisation"]
