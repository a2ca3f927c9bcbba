"""Export a kernelnet model to ONNX (optional dependency: `pip install onnx`).

The exported graph takes and returns the same NHWC arrays as the kernelnet model (inference mode:
Dropout is the identity, BatchNormalization uses its moving statistics). Inside, 4D tensors are
kept in ONNX's native NCHW layout: the input is transposed once, Conv/Pool/BatchNormalization run
on NCHW, and tensors are transposed back only where NHWC order matters (Flatten, Dense on images,
Reshape, model outputs).

Example:
    >>> from kernelnet.onnx_export import export_onnx
    >>> export_onnx(model, "model.onnx")                        # doctest: +SKIP
    >>> import onnxruntime as ort                               # doctest: +SKIP
    >>> ort.InferenceSession("model.onnx").run(None, {"input": x})[0]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

_TO_NCHW, _TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]
_SIMPLE_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "elu": "Elu",
                       "selu": "Selu", "softplus": "Softplus", "softsign": "Softsign",
                       "exponential": "Exp"}
_MERGE_OPS = {"Add": "Sum", "Average": "Mean", "Maximum": "Max", "Minimum": "Min",
              "Subtract": "Sub", "Multiply": "Mul"}


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError as err:
        raise ImportError(
            "export_onnx() needs the onnx package, which is not installed. Install it with "
            "`pip install onnx` (and `pip install onnxruntime` to run the exported model), or "
            "`pip install kernelnet[onnx]`."
        ) from err
    return onnx


@dataclass
class _Tensor:
    name: str
    shape: tuple            # kernelnet (NHWC) shape, batch axis None
    nchw: bool = False      # stored transposed to NCHW in the ONNX graph


class _Builder:
    """Collects ONNX nodes and initializers while walking the kernelnet graph."""

    def __init__(self, onnx: Any):
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def fresh(self, base: str) -> str:
        self._count += 1
        return f"{base}__{self._count}"

    def const(self, base: str, value: Any, dtype: Any = np.float32) -> str:
        name = self.fresh(base)
        array = np.asarray(value, dtype=dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], base: str, **attrs: Any) -> str:
        out = self.fresh(base)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def layout(self, t: _Tensor, nchw: bool) -> _Tensor:
        """`t` in the requested layout (a Transpose when it differs; only 4D is ever NCHW)."""
        if len(t.shape) != 4 or t.nchw == nchw:
            return t
        perm = _TO_NCHW if nchw else _TO_NHWC
        return _Tensor(self.op("Transpose", [t.name], t.name, perm=perm), t.shape, nchw)


def export_onnx(model: Any, path: str | os.PathLike, opset: int = 13) -> None:
    """Writes `model` (Sequential or functional, float32) to an ONNX file at `path`.

    The graph input is named "input" (several: "input_0", ...), outputs "output" likewise, with a
    dynamic batch axis. Raises ValueError naming the first layer that cannot be exported.
    """
    onnx = _require_onnx()
    builder = _Builder(onnx)
    shapes = model.batch_input_shape
    multi_in = isinstance(shapes, list)
    shapes = shapes if multi_in else [shapes]
    in_names = [f"input_{i}" for i in range(len(shapes))] if multi_in else ["input"]
    inputs = [_Tensor(n, tuple(s)) for n, s in zip(in_names, shapes)]
    outputs = _emit_model(builder, model, inputs)
    out_names = [f"output_{i}" for i in range(len(outputs))] if len(outputs) > 1 else ["output"]
    for t, name in zip(outputs, out_names):
        t = builder.layout(t, nchw=False)
        builder.nodes.append(builder.helper.make_node("Identity", [t.name], [name]))

    def value_info(name: str, shape: tuple) -> Any:
        dims = ["N"] + [d if d is not None else f"d{i}" for i, d in enumerate(shape[1:], 1)]
        return builder.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, dims)

    graph = builder.helper.make_graph(
        builder.nodes, model.name, [value_info(t.name, t.shape) for t in inputs],
        [value_info(n, t.shape) for n, t in zip(out_names, outputs)], builder.initializers)
    onnx_model = builder.helper.make_model(
        graph, opset_imports=[builder.helper.make_opsetid("", opset)], producer_name="kernelnet")
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, str(path))


def _emit_model(b: _Builder, model: Any, inputs: list[_Tensor]) -> list[_Tensor]:
    """Emits `model`'s layers on `inputs`; returns its output tensors (nested models inline)."""
    from kernelnet.layers.input_layer import InputLayer
    from kernelnet.models import Sequential

    if isinstance(model, Sequential):
        t = inputs[0]
        for layer in model.layers:
            t = _emit_layer(b, layer, [t], multi=False)
        return [t]
    config = model.get_config()
    tensors = dict(zip(config["input_layers"], inputs))
    for entry in config["layers"]:
        layer = model.get_layer(entry["name"])
        if isinstance(layer, InputLayer):
            continue
        args = [tensors[name] for name in entry["inbound_nodes"]]
        multi = len(args) > 1 or getattr(layer, "_multi_input_layer", False)
        tensors[entry["name"]] = _emit_layer(b, layer, args, multi)
    return [tensors[name] for name in config["output_layers"]]


def _emit_layer(b: _Builder, layer: Any, args: list[_Tensor], multi: bool) -> _Tensor:
    from kernelnet.models import Model

    if isinstance(layer, Model):
        outs = _emit_model(b, layer, args)
        return outs[0]
    kind = type(layer).__name__
    emitter = _EMITTERS.get(kind)
    if emitter is None and kind in _MERGE_OPS:
        emitter = _merge
    if emitter is None:
        raise ValueError(
            f"Layer {layer.name!r} ({kind}) cannot be exported to ONNX by kernelnet. Supported: "
            f"{', '.join(sorted([*_EMITTERS, *_MERGE_OPS, 'Sequential', 'Model']))}."
        )
    shape_in = [a.shape for a in args] if multi else args[0].shape
    out_shape = tuple(layer.compute_output_shape(shape_in))
    return emitter(b, layer, args if multi else args[0], layer.get_config(), out_shape)


def _weights(layer: Any) -> dict[str, np.ndarray]:
    return {n.split("/", 1)[1]: w.astype(np.float32) for n, w in
            zip(layer.weight_names, layer.weights)}


def _activation(b: _Builder, t: _Tensor, name: Any, who: Any) -> _Tensor:
    if name in (None, "linear"):
        return t
    if name in _SIMPLE_ACTIVATIONS:
        return _Tensor(b.op(_SIMPLE_ACTIVATIONS[name], [t.name], who.name), t.shape, t.nchw)
    if name == "softmax":
        axis = 1 if t.nchw else -1
        return _Tensor(b.op("Softmax", [t.name], who.name, axis=axis), t.shape, t.nchw)
    if name == "relu6":
        return _clip(b, t, 0.0, 6.0, who.name)
    if name in ("silu", "swish"):
        sig = b.op("Sigmoid", [t.name], who.name)
        return _Tensor(b.op("Mul", [t.name, sig], who.name), t.shape, t.nchw)
    raise ValueError(
        f"Layer {who.name!r} ({type(who).__name__}) uses activation {name!r}, which "
        f"export_onnx() does not support. Supported: linear, relu, relu6, silu, softmax, "
        f"{', '.join(sorted(_SIMPLE_ACTIVATIONS))}."
    )


def _clip(b: _Builder, t: _Tensor, low: float, high: float | None, base: str) -> _Tensor:
    inputs = [t.name, b.const(base + "_min", low)]
    if high is not None:
        inputs.append(b.const(base + "_max", high))
    return _Tensor(b.op("Clip", inputs, base), t.shape, t.nchw)


def _same_pads(in_hw: tuple, kernel: tuple, strides: tuple, dilation: tuple = (1, 1)) -> list:
    """TF/Keras "same" padding: extra row/column at the bottom/right. ONNX order t, l, b, r."""
    begins, ends = [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dilation):
        if size is None:
            raise ValueError("padding='same' needs static height and width to export to ONNX.")
        effective = (k - 1) * d + 1
        total = max((math.ceil(size / s) - 1) * s + effective - size, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


def _conv(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    t = b.layout(t, nchw=True)
    w = _weights(layer)
    kernel = b.const(layer.name + "_W", np.transpose(w["kernel"], (3, 2, 0, 1)))  # (o, i, kh, kw)
    inputs = [t.name, kernel] + ([b.const(layer.name + "_B", w["bias"])] if "bias" in w else [])
    dilation = tuple(cfg.get("dilation_rate", (1, 1)))
    pads = (_same_pads(t.shape[1:3], cfg["kernel_size"], cfg["strides"], dilation)
            if cfg["padding"] == "same" else [0, 0, 0, 0])
    y = b.op("Conv", inputs, layer.name, kernel_shape=list(cfg["kernel_size"]),
             strides=list(cfg["strides"]), pads=pads, dilations=list(dilation),
             group=int(cfg.get("groups", 1)))
    return _activation(b, _Tensor(y, out_shape, True), cfg.get("activation"), layer)


def _dense(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    t = b.layout(t, nchw=False)
    w = _weights(layer)
    y = b.op("MatMul", [t.name, b.const(layer.name + "_W", w["kernel"])], layer.name)
    if "bias" in w:
        y = b.op("Add", [y, b.const(layer.name + "_B", w["bias"])], layer.name)
    return _activation(b, _Tensor(y, out_shape, False), cfg.get("activation"), layer)


def _batch_norm(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    if cfg.get("axis", -1) not in (-1, len(t.shape) - 1):
        raise ValueError(f"Layer {layer.name!r} (BatchNormalization): only axis=-1 exports.")
    t = b.layout(t, nchw=len(t.shape) == 4)
    if len(t.shape) not in (2, 4):
        raise ValueError(f"Layer {layer.name!r} (BatchNormalization): only 2D/4D input exports.")
    w = _weights(layer)
    c = w["moving_mean"].shape[0]
    inputs = [t.name] + [b.const(layer.name + "_" + k, w.get(k, default)) for k, default in (
        ("gamma", np.ones(c)), ("beta", np.zeros(c)), ("moving_mean", None),
        ("moving_variance", None))]
    y = b.op("BatchNormalization", inputs, layer.name, epsilon=float(cfg["epsilon"]))
    return _Tensor(y, out_shape, t.nchw)


def _pool(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    t = b.layout(t, nchw=True)
    pads = (_same_pads(t.shape[1:3], cfg["pool_size"], cfg["strides"])
            if cfg["padding"] == "same" else [0, 0, 0, 0])
    op = "MaxPool" if type(layer).__name__ == "MaxPooling2D" else "AveragePool"
    y = b.op(op, [t.name], layer.name, kernel_shape=list(cfg["pool_size"]),
             strides=list(cfg["strides"]), pads=pads)
    return _Tensor(y, out_shape, True)


def _global_pool(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    t = b.layout(t, nchw=True)
    op = "GlobalMaxPool" if "Max" in type(layer).__name__ else "GlobalAveragePool"
    y = b.op(op, [t.name], layer.name)                                 # (n, c, 1, 1)
    if cfg.get("keepdims"):
        return _Tensor(y, out_shape, True)
    return _Tensor(b.op("Flatten", [y], layer.name, axis=1), out_shape, False)


def _zero_padding(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    t = b.layout(t, nchw=True)
    (top, bottom), (left, right) = cfg["padding"]
    pads = b.const(layer.name + "_pads", [0, 0, top, left, 0, 0, bottom, right], np.int64)
    return _Tensor(b.op("Pad", [t.name, pads], layer.name), out_shape, True)


def _flatten(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    t = b.layout(t, nchw=False)                                        # NHWC element order
    return _Tensor(b.op("Flatten", [t.name], layer.name, axis=1), out_shape, False)


def _reshape(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    t = b.layout(t, nchw=False)
    shape = b.const(layer.name + "_shape", [0, *cfg["target_shape"]], np.int64)
    return _Tensor(b.op("Reshape", [t.name, shape], layer.name), out_shape, False)


def _identity(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    return t


def _activation_layer(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> Any:
    return _activation(b, t, cfg["activation"], layer)


def _relu_layer(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    if cfg.get("threshold", 0.0) != 0.0 or (cfg.get("negative_slope", 0.0) != 0.0
                                           and cfg.get("max_value") is not None):
        raise ValueError(f"Layer {layer.name!r} (ReLU): threshold and a capped leaky ReLU "
                         "do not export to ONNX.")
    if cfg.get("negative_slope", 0.0) != 0.0:
        y = b.op("LeakyRelu", [t.name], layer.name, alpha=float(cfg["negative_slope"]))
        return _Tensor(y, t.shape, t.nchw)
    if cfg.get("max_value") is not None:
        return _clip(b, t, 0.0, float(cfg["max_value"]), layer.name)
    return _Tensor(b.op("Relu", [t.name], layer.name), t.shape, t.nchw)


def _leaky_relu(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    y = b.op("LeakyRelu", [t.name], layer.name, alpha=float(cfg["negative_slope"]))
    return _Tensor(y, t.shape, t.nchw)


def _elu(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    return _Tensor(b.op("Elu", [t.name], layer.name, alpha=float(cfg["alpha"])), t.shape, t.nchw)


def _nchw_axis(axis: int, t: _Tensor) -> int:
    axis %= len(t.shape)
    return _TO_NCHW.index(axis) if t.nchw else axis


def _softmax(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    y = b.op("Softmax", [t.name], layer.name, axis=_nchw_axis(cfg.get("axis", -1), t))
    return _Tensor(y, t.shape, t.nchw)


def _lrn(b: _Builder, layer: Any, t: _Tensor, cfg: dict, out_shape: tuple) -> _Tensor:
    t = b.layout(t, nchw=True)
    size = 2 * cfg["depth_radius"] + 1
    # ONNX divides alpha by the window size; kernelnet (TF) does not
    y = b.op("LRN", [t.name], layer.name, size=size, alpha=float(cfg["alpha"]) * size,
             beta=float(cfg["beta"]), bias=float(cfg["bias"]))
    return _Tensor(y, out_shape, True)


def _concatenate(b: _Builder, layer: Any, ts: list, cfg: dict, out_shape: tuple) -> _Tensor:
    nchw = ts[0].nchw
    ts = [b.layout(t, nchw) for t in ts]
    y = b.op("Concat", [t.name for t in ts], layer.name, axis=_nchw_axis(cfg["axis"], ts[0]))
    return _Tensor(y, out_shape, nchw)


def _merge(b: _Builder, layer: Any, ts: list, cfg: dict, out_shape: tuple) -> _Tensor:
    nchw = ts[0].nchw
    names = [b.layout(t, nchw).name for t in ts]
    op = _MERGE_OPS[type(layer).__name__]
    if op == "Mul":
        y = names[0]
        for other in names[1:]:
            y = b.op("Mul", [y, other], layer.name)
    else:
        y = b.op(op, names, layer.name)
    return _Tensor(y, out_shape, nchw)


_EMITTERS = {
    "Conv2D": _conv, "Dense": _dense, "BatchNormalization": _batch_norm,
    "MaxPooling2D": _pool, "AveragePooling2D": _pool,
    "GlobalAveragePooling2D": _global_pool, "GlobalMaxPooling2D": _global_pool,
    "ZeroPadding2D": _zero_padding, "Flatten": _flatten, "Reshape": _reshape,
    "Dropout": _identity, "InputLayer": _identity, "Activation": _activation_layer,
    "ReLU": _relu_layer, "LeakyReLU": _leaky_relu, "ELU": _elu, "Softmax": _softmax,
    "LocalResponseNormalization": _lrn, "Concatenate": _concatenate,
}
