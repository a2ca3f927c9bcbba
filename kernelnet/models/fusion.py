"""Inference rewrites of a model's layer graph (`graph.Node`s): a BatchNormalization right after
a Conv2D is folded into the convolution.

At inference BatchNormalization is `z * scale + shift` per channel (its moving statistics), so

    bn(conv(x, K, b)) = conv(x, K * scale, b * scale + shift)

one convolution instead of a convolution and two passes over its output. When the
BatchNormalization's output goes only to an Activation layer, the activation is applied in
place to the fused output as well (the output is fresh, nobody else holds it). Only calls that
record nothing use the rewritten graph (`Model.call` with `training` false and no tape
recording): training and gradients see the layers as written. Results equal the unfused graph
up to float rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet._typing import Array
from kernelnet.autodiff import Tensor
from kernelnet.autodiff.tensor import is_tracked, unwrap
from kernelnet.layers.convolutional import Conv2D
from kernelnet.layers.core import Activation
from kernelnet.layers.normalization import BatchNormalization
from kernelnet.models.graph import Node


class ConvBatchNorm:
    """A Conv2D (linear) and the BatchNormalization after it, optionally with the Activation
    after that, called like one layer at inference."""

    def __init__(self, conv: Conv2D, bn: BatchNormalization, act: Activation | None = None):
        self.conv, self.bn, self.act = conv, bn, act
        self.name = f"{conv.name}+{bn.name}" + (f"+{act.name}" if act is not None else "")
        # A 3x3 kernel is folded into the same array every call, so the Winograd transform
        # cache (`ops.winograd.transformed`, keyed on the array) still hits; other kernels are
        # folded into a temporary (a kept copy of every kernel cost ResNet50 ~100 MB).
        self._kernel: Array | None = None

    def folded(self, dtype: Any) -> tuple[Array, Array]:
        """`(kernel * scale, bias * scale + shift)` in `dtype`."""
        scale, shift = self.bn.inference_affine(dtype)
        kernel = self.conv.kernel.value
        out = self._kernel
        if out is None or out.dtype != dtype or out.shape != kernel.shape:
            out = np.empty(kernel.shape, dtype)
            if kernel.shape[:2] == (3, 3):
                self._kernel = out
        np.multiply(kernel, scale, out=out)
        bias = shift if self.conv.bias is None else self.conv.bias.value * scale + shift
        return out, bias.astype(dtype, copy=False)

    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.conv._as_input(inputs)
        value = unwrap(x)
        kernel, bias = self.folded(value.dtype)
        y = self.conv.convolve(None, value, kernel, bias,
                               None if self.act is None else self.act._act)
        return Tensor(y) if is_tracked(x) else y


def _foldable(conv: Any, bn: Any) -> bool:
    return (type(conv) is Conv2D and conv.built and conv._act.is_linear
            and type(bn) is BatchNormalization and bn.built and bn._axis == 3)


def inference_nodes(nodes: list[Node], output_ids: list[int]) -> list[Node]:
    """`nodes` with every foldable Conv2D -> BatchNormalization (-> Activation) chain made one
    `ConvBatchNorm` node. A chain is foldable when each intermediate tensor has that one
    consumer and is not a model output."""
    consumers: dict[int, list[int]] = {}
    for index, node in enumerate(nodes):
        for tid in node.in_ids:
            consumers.setdefault(tid, []).append(index)
    outputs = set(output_ids)

    def only_consumer(tid: int) -> int | None:
        users = consumers.get(tid, [])
        return users[0] if len(users) == 1 and tid not in outputs else None

    fused, absorbed = [], set()
    for index, node in enumerate(nodes):
        if index in absorbed:
            continue
        bn = None if node.multi else only_consumer(node.out_id)
        if bn is None or not _foldable(node.layer, nodes[bn].layer):
            fused.append(node)
            continue
        act = only_consumer(nodes[bn].out_id)
        if act is not None and type(nodes[act].layer) is not Activation:
            act = None
        absorbed.update(i for i in (bn, act) if i is not None)
        fused.append(Node(ConvBatchNorm(node.layer, nodes[bn].layer,
                                        None if act is None else nodes[act].layer),
                          node.in_ids, nodes[bn if act is None else act].out_id, False))
    return fused
