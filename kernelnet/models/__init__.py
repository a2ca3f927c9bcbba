"""Models: `Sequential`, functional `Model`, `Input`, and loading/saving."""

from kernelnet.layers.input_layer import Input
from kernelnet.models.model import Model
from kernelnet.models.sequential import Sequential
from kernelnet.saving import load_model, save_model


def model_from_config(config: dict, custom_objects: dict | None = None) -> Model:
    """Builds a model from `{"class_name": ..., "config": ...}`."""
    from kernelnet import layers

    return layers.deserialize(config, custom_objects=custom_objects)


def clone_model(model: Model) -> Model:
    """A new model with the same architecture and freshly initialized weights."""
    return model_from_config({"class_name": "Functional" if type(model) is Model
                              else type(model).__name__, "config": model.get_config()})


__all__ = ["Input", "Model", "Sequential", "clone_model", "load_model", "model_from_config",
           "save_model"]
