"""Looking inside a model: intermediate activations and gradients wrt them.

`Sequential` and functional models both run a list of `graph.Node`s in topological order, so
one walk serves both. Nested models (a backbone added to a `Sequential`) are entered when the
requested layer lives inside them. Gradients come from a `GradientTape` that watches the
requested layer's output. Nothing here changes the model's weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet._typing import Array
from kernelnet.autodiff import GradientTape, convert_to_tensor, unwrap


def _contains(model: Any, name: str) -> bool:
    return any(layer.name == name or (hasattr(layer, "_nodes") and _contains(layer, name))
               for layer in getattr(model, "_layers", []))


def iter_layers(model: Any):
    """Every leaf layer of `model`, nested models entered, in execution order."""
    for node in model._nodes:
        if hasattr(node.layer, "_nodes"):
            yield from iter_layers(node.layer)
        else:
            yield node.layer


def find_layer(model: Any, name: str) -> Any:
    """The (possibly nested) layer called `name`, or a ValueError listing the names."""
    for layer in iter_layers(model):
        if layer.name == name:
            return layer
    names = [layer.name for layer in iter_layers(model)]
    raise ValueError(f"Model {model.name!r} has no layer named {name!r}. Layers: {names}.")


def spatial_layers(model: Any) -> list[Any]:
    """Leaf layers whose output is an image-like 4D map (convolutions, pooling, activations)."""
    from kernelnet import layers

    kinds = (layers.Conv2D, layers.MaxPooling2D, layers.AveragePooling2D)
    return [layer for layer in iter_layers(model) if isinstance(layer, kinds)]


def conv_layers(model: Any) -> list[Any]:
    """Leaf `Conv2D` layers in execution order."""
    from kernelnet import layers

    return [layer for layer in iter_layers(model) if isinstance(layer, layers.Conv2D)]


def _prepare(model: Any, x: Any) -> Array:
    from kernelnet.models import training

    x = training.as_model_input(model, x)
    model._ensure_built(x)
    return x


def _forward(model: Any, x: Any, names: set[str], taps: dict[str, Any],
             tape: GradientTape | None = None) -> Any:
    """Runs `model` on `x` like `graph.run`, storing outputs of layers in `names`; with a
    `tape`, those outputs become watched Tensors the rest of the pass is recorded from."""
    values = {model._input_ids[0]: x}
    for node in model._nodes:
        args = [values[tid] for tid in node.in_ids]
        arg = args if node.multi else args[0]
        layer = node.layer
        if hasattr(layer, "_nodes") and any(_contains(layer, n) for n in names):
            values[node.out_id] = _forward(layer, arg, names, taps, tape)
        else:
            values[node.out_id] = layer(arg, training=False)
        if layer.name in names:
            if tape is not None:
                values[node.out_id] = convert_to_tensor(values[node.out_id])
                tape.watch(values[node.out_id])
            taps[layer.name] = values[node.out_id]
    return values[model._output_ids[0]]


def intermediate_outputs(model: Any, x: Any, layer_names: list[str]) -> dict[str, Array]:
    """Outputs of the named layers for the batch `x`, plus `"__output__"`: the model's output.

    Example:
        >>> maps = intermediate_outputs(model, x[:1], ["conv2d"])      # doctest: +SKIP
        >>> maps["conv2d"].shape                                          # doctest: +SKIP
        (1, 26, 26, 32)
    """
    for name in layer_names:
        find_layer(model, name)
    taps: dict[str, Array] = {}
    taps["__output__"] = _forward(model, _prepare(model, x), set(layer_names), taps)
    return {name: unwrap(value) for name, value in taps.items()}


def class_scores(out: Any) -> Any:
    """The class scores behind a model output: the logits before its softmax/sigmoid when the
    output layer applied one (`_keras_logits`), else the output itself."""
    logits = getattr(out, "_keras_logits", None)
    return out if logits is None else logits


def _one_image(x: Any) -> Array:
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[np.newaxis]
    if x.ndim != 4 or len(x) != 1:
        raise ValueError(f"Expected one image (h, w, c). Received shape {tuple(x.shape)}.")
    return x


def _seed(probs: Array, class_index: int | None) -> tuple[Array, int]:
    num_classes = probs.shape[-1]
    if class_index is None:
        class_index = int(np.argmax(probs[0]))
    if not 0 <= class_index < num_classes:
        raise ValueError(f"class_index must be in [0, {num_classes}). "
                         f"Received: class_index={class_index}.")
    seed = np.zeros(probs.shape, dtype=probs.dtype)
    seed[0, class_index] = 1.0
    return seed, class_index


def class_score_gradient(model: Any, x: Any, layer_name: str,
                         class_index: int | None = None) -> tuple[Array, Array, int]:
    """Activation `A` of `layer_name` and `dy_c/dA` for one image, where `y_c` is the class
    score before the output softmax (as in Grad-CAM), computed with a `GradientTape`.

    Args:
        x: one sample `(h, w, c)` or a batch of one `(1, h, w, c)`.
        class_index: the class to explain; defaults to the predicted class.

    Returns:
        `(activation, gradient, class_index)`, the arrays shaped like the layer output
        without the batch axis.
    """
    x = _one_image(x)
    find_layer(model, layer_name)
    taps: dict[str, Any] = {}
    with GradientTape() as tape:
        out = _forward(model, _prepare(model, x), {layer_name}, taps, tape)
    seed, class_index = _seed(unwrap(out), class_index)
    scores = class_scores(out)
    grad = tape.gradient(scores, taps[layer_name], output_gradients=seed,
                         unconnected_gradients="zero")
    return unwrap(taps[layer_name])[0], np.asarray(grad)[0], class_index


def input_gradient(model: Any, x: Any, class_index: int | None = None) -> tuple[Array, int]:
    """`dy_c/dx` for one image `x` (`y_c` the class score before the output softmax), with a
    `GradientTape` watching the input; returns `(gradient shaped like x[0], class_index)`."""
    x = convert_to_tensor(_prepare(model, _one_image(x)))
    with GradientTape() as tape:
        tape.watch(x)
        out = model(x, training=False)
    seed, class_index = _seed(unwrap(out), class_index)
    grad = tape.gradient(class_scores(out), x, output_gradients=seed,
                         unconnected_gradients="zero")
    return np.asarray(grad)[0], class_index
