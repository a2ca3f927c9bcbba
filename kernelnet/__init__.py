"""kernelnet: readable NumPy convolutional neural networks with the Keras API.

Replace `keras` / `tensorflow.keras` by `kernelnet` in a Keras tutorial's imports and it runs:

    from kernelnet import layers, models
    model = models.Sequential([layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
                               layers.Flatten(), layers.Dense(10, activation="softmax")])
"""

__version__ = "0.1.0"

from kernelnet import (  # noqa: E402
    activations,
    autodiff,
    backend,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    utils,
)
from kernelnet.autodiff import GradientTape, Variable  # noqa: E402
from kernelnet.layers import Input  # noqa: E402
from kernelnet.losses import Loss  # noqa: E402
from kernelnet.metrics import Metric  # noqa: E402
from kernelnet.models import Model, Sequential, load_model  # noqa: E402


def __getattr__(name: str):
    # Subpackages with heavier imports (tqdm, Pillow, urllib, the zoo) load on first use.
    import importlib

    if name in ("callbacks", "datasets", "preprocessing", "applications", "visualization",
                "saving", "keras_io", "onnx_export", "cli", "random"):
        return importlib.import_module(f"kernelnet.{name}")
    raise AttributeError(f"module 'kernelnet' has no attribute {name!r}")


__all__ = ["GradientTape", "Input", "Loss", "Metric", "Model", "Sequential", "Variable",
           "activations",
           "applications", "autodiff", "backend", "callbacks", "datasets", "initializers",
           "layers", "load_model", "losses", "metrics", "models", "ops", "optimizers",
           "preprocessing", "random", "utils"]
