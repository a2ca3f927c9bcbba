"""Crossentropy losses, with the fused softmax/sigmoid gradient `(p - y) / n`."""

from __future__ import annotations

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.autodiff.function import Function
from kernelnet.losses.base import _BuiltinLoss, _mean_last, _per_sample_size, _shape
from kernelnet.ops import nn
from kernelnet.utils.validation import check_rate


class _LogitsValues(Function):
    """Crossentropy values of the probabilities `probs = act(logits)`, as one tape node on the
    logits: backward is the fused `(p - y)`, skipping the softmax/sigmoid Jacobian."""

    @staticmethod
    def forward(ctx, logits, *, loss, y_true, probs):
        ctx.loss, ctx.y_true, ctx.probs = loss, y_true, probs
        return loss._values(y_true, probs)

    @staticmethod
    def backward(ctx, g):
        return ctx.loss._apply_scale(ctx.loss._logits_grad(ctx.y_true, ctx.probs), g)


class _Crossentropy(_BuiltinLoss):
    """Shared arguments of the crossentropies, and `value_and_logits_grad`: the gradient wrt
    the logits of the final softmax/sigmoid."""

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = check_rate(label_smoothing, "label_smoothing",
                                          type(self).__name__, upper_inclusive=True)

    _activation = "softmax"  # the output activation whose logits the fused gradient is for

    def _fused_logits(self, y_true, y_pred):
        """With `y_pred._keras_logits` set (the logits behind an output softmax/sigmoid, as
        Keras 3 marks them), the values as a node on the logits with the fused gradient."""
        logits = getattr(y_pred, "_keras_logits", None)
        if self.from_logits or logits is None or not self._own_call():
            return None
        probs = y_pred.value
        z = np.asarray(logits)
        if z.shape != probs.shape or not z.size:
            return None
        name = getattr(y_pred, "activation", None)  # set by Layer.__call__ with the mark
        if name is not None and name != self._activation:
            return None
        act = nn.softmax if self._activation == "softmax" else nn.sigmoid
        # A mark without a name: check on the first sample that it is this activation's.
        if name is None and not np.allclose(act(z[:1].astype(np.float64)), probs[:1],
                                            rtol=1e-3, atol=1e-6):
            return None
        return _LogitsValues.apply(logits, loss=self, y_true=y_true, probs=probs)

    def value_and_logits_grad(self, y_true, y_pred, sample_weight=None) -> tuple[float, Array]:
        """Returns `(loss, d loss / d logits)` where `y_pred = softmax(logits)` (or sigmoid).

        The fused gradient `(p - y) / n` skips the softmax Jacobian (Keras 3 uses the logits
        for the same reason). `y_pred` are the probabilities the model output.
        """
        if self.from_logits:
            raise ValueError(
                f"Loss {self.name!r} was created with from_logits=True; "
                "value_and_logits_grad() expects probabilities. Use value_and_grad()."
            )
        y_true, y_pred = self._prepare(y_true, y_pred)
        values = self._values(y_true, y_pred)
        scale = self._scale(y_true, values, sample_weight)
        return self._reduce(values, scale), self._apply_scale(self._logits_grad(y_true, y_pred),
                                                              scale)


class CategoricalCrossentropy(_Crossentropy):
    """Crossentropy between one-hot (or soft) targets and predicted class probabilities.

    Per sample: `-sum(y * log(p))` with `p` renormalized and clipped (or `log_softmax(logits)`
    with `from_logits=True`). `label_smoothing` replaces `y` by `y * (1 - s) + s / classes`.

    Args:
        from_logits: whether `y_pred` are logits rather than probabilities.
        label_smoothing: float in [0, 1].
        name, reduction: see `Loss`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, reduction, name, dtype)

    def _prepare(self, y_true, y_pred):
        y_pred = self._as_pred(y_pred)
        y_true = self._as_targets(y_true, y_pred)
        if y_true.shape != y_pred.shape:
            k = y_pred.shape[-1]
            raise ValueError(
                f"Loss {self.name!r} expects one-hot targets with the same shape as the model "
                f"output (batch, {', '.join(str(d) for d in y_pred.shape[1:])}). Received "
                f"targets of shape {_shape(y_true)}. If your targets are integer class ids, use "
                'loss="sparse_categorical_crossentropy" or convert them with '
                f"kernelnet.utils.to_categorical(y, {k})."
            )
        if self.label_smoothing:
            s = self.label_smoothing
            y_true = y_true * y_pred.dtype.type(1 - s) + y_pred.dtype.type(s / y_pred.shape[-1])
        return y_true, y_pred

    def _values(self, y_true, y_pred):
        if self.from_logits:
            return -np.sum(y_true * nn.log_softmax(y_pred), axis=-1)
        eps = backend.epsilon()
        q = np.clip(y_pred / y_pred.sum(axis=-1, keepdims=True), eps, 1 - eps)
        return -np.sum(y_true * np.log(q), axis=-1)

    def _grad(self, y_true, y_pred):
        if self.from_logits:
            return self._logits_grad(y_true, nn.softmax(y_pred))
        eps = backend.epsilon()
        s = y_pred.sum(axis=-1, keepdims=True)
        q = y_pred / s
        inside = (q >= eps) & (q <= 1 - eps)  # the clip passes gradient only inside the range
        # dL/dq = -y / q (inside the clip range)
        dq = np.where(inside, -y_true / np.clip(q, eps, 1 - eps), 0).astype(y_pred.dtype)
        # q = p / sum(p)  =>  dL/dp = (dq - <dq, q>) / sum(p)
        return (dq - np.sum(dq * q, axis=-1, keepdims=True)) / s

    def _logits_grad(self, y_true, probs):
        # d/dz of -sum(y * log softmax(z)) = p * sum(y) - y   (= p - y for one-hot y)
        return probs * y_true.sum(axis=-1, keepdims=True) - y_true

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Crossentropy with integer class ids as targets: `-log(p[y])`.

    Targets have shape `(batch,)` or `(batch, 1)` with values in `[0, classes)`.

    Args:
        from_logits: whether `y_pred` are logits rather than probabilities.
        ignore_class: optional class id whose samples are left out (loss and gradient 0, and
            the mean is over the other samples, as in Keras 3).
        name, reduction: see `Loss`.
    """

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(from_logits=from_logits, reduction=reduction, name=name, dtype=dtype)
        self.ignore_class = None if ignore_class is None else int(ignore_class)

    def _prepare(self, y_true, y_pred):
        y_pred = self._as_pred(y_pred)
        labels = self._labels(y_true, y_pred)
        ignored = None if self.ignore_class is None else labels == self.ignore_class
        onehot = np.zeros_like(y_pred)
        index = labels if ignored is None else np.where(ignored, 0, labels)
        np.put_along_axis(onehot, index[..., None], 1, axis=-1)
        if ignored is not None:
            onehot[ignored] = 0
        return onehot, y_pred

    def _target_mask(self, y_true):
        # ignored samples are the all-zero rows of the one-hot targets built by _prepare
        return None if self.ignore_class is None else y_true.any(axis=-1)

    def _mask(self, y_true, y_pred):
        if self.ignore_class is None:
            return None
        return self._labels(y_true, np.asarray(y_pred)) != self.ignore_class

    def _labels(self, y_true, y_pred) -> Array:
        """Validates integer class ids; returns them shaped `y_pred.shape[:-1]` (int64)."""
        y = np.asarray(y_true)
        k, lead = y_pred.shape[-1], y_pred.shape[:-1]
        if y.ndim and y.shape[0] != y_pred.shape[0]:
            self._as_targets(y, y_pred)  # raises the batch-size message
        if y.shape not in (lead, lead + (1,)):
            hint = ""
            if y.shape == y_pred.shape:
                hint = (' These look like one-hot targets: use loss="categorical_crossentropy", '
                        "or pass integer ids with np.argmax(y, axis=-1).")
            dims = "".join(f", {d}" for d in lead[1:]) or ","
            raise ValueError(
                f"Loss {self.name!r} expects integer class ids of shape (batch{dims}) or "
                f"(batch{dims.rstrip(',')}, 1). Received targets of shape {_shape(y)}.{hint}"
            )
        y = y.reshape(lead)
        if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
            bad = float(y[~(np.isfinite(y) & (y == np.round(y)))].flat[0])
            raise ValueError(
                f"Loss {self.name!r} expects integer class ids. Received a non-integer label "
                f"value {bad!r}. For one-hot or soft targets use "
                'loss="categorical_crossentropy".'
            )
        if y.dtype.kind not in "biuf":
            raise ValueError(f"Loss {self.name!r} expects integer class ids. Received dtype "
                             f"{str(y.dtype)!r}.")
        labels = y.astype(np.int64)
        valid = labels if self.ignore_class is None else labels[labels != self.ignore_class]
        out_of_range = (valid < 0) | (valid >= k)
        if np.any(out_of_range):
            raise ValueError(
                f"Loss {self.name!r} received a label value of {int(valid[out_of_range][0])} "
                f"which is outside the valid range of [0, {k}). The model output has {k} "
                "classes; check the labels or the size of the last layer."
            )
        return labels

    def get_config(self):
        config = super().get_config()
        del config["label_smoothing"]
        return {**config, "ignore_class": self.ignore_class}


class BinaryCrossentropy(_Crossentropy):
    """Crossentropy for 0/1 targets and sigmoid probabilities (one or several labels).

    Element-wise `-(y * log(p) + (1 - y) * log(1 - p))` with `p` clipped to [eps, 1 - eps], then
    the mean over the last axis. `label_smoothing` replaces `y` by `y * (1 - s) + s / 2`.
    Targets of shape `(batch,)` are accepted for outputs of shape `(batch, 1)`.

    Args:
        from_logits: whether `y_pred` are logits rather than probabilities.
        label_smoothing: float in [0, 1].
        name, reduction: see `Loss`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, reduction, name, dtype)

    _activation = "sigmoid"

    def _prepare(self, y_true, y_pred):
        y_true, y_pred = super()._prepare(y_true, y_pred)
        if self.label_smoothing:
            s = self.label_smoothing
            y_true = y_true * y_pred.dtype.type(1 - s) + y_pred.dtype.type(s / 2)
        return y_true, y_pred

    def _values(self, y_true, y_pred):
        if self.from_logits:
            # log(1 + exp(z)) - y * z, written stably: max(z, 0) - z * y + log1p(exp(-|z|))
            z = y_pred
            return _mean_last(np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z))))
        eps = backend.epsilon()
        p = np.clip(y_pred, eps, 1 - eps)
        return _mean_last(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)))

    def _grad(self, y_true, y_pred):
        k = y_pred.dtype.type(_per_sample_size(y_pred))
        if self.from_logits:
            return (nn.sigmoid(y_pred) - y_true) / k
        eps = backend.epsilon()
        inside = (y_pred >= eps) & (y_pred <= 1 - eps)
        p = np.clip(y_pred, eps, 1 - eps)
        # dL/dp = -y / p + (1 - y) / (1 - p) = (p - y) / (p * (1 - p))
        return np.where(inside, (p - y_true) / (p * (1 - p)) / k, 0).astype(y_pred.dtype)

    def _logits_grad(self, y_true, probs):
        # d/dz of the crossentropy of sigmoid(z): (p - y), averaged over the last axis
        return (probs - y_true) / probs.dtype.type(_per_sample_size(probs))

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}
