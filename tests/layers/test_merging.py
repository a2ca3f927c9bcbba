"""Merge layers: values, shape inference, and shape-mismatch messages."""

import numpy as np
import pytest

from kernelnet.layers import merging
from kernelnet.layers.base import context


@pytest.mark.parametrize("cls,fn", [
    (merging.Add, lambda a, b, c: a + b + c),
    (merging.Multiply, lambda a, b, c: a * b * c),
    (merging.Average, lambda a, b, c: (a + b + c) / 3),
    (merging.Maximum, lambda a, b, c: np.maximum(np.maximum(a, b), c)),
    (merging.Minimum, lambda a, b, c: np.minimum(np.minimum(a, b), c)),
])
def test_elementwise_values(rng, cls, fn):
    xs = [rng.standard_normal((2, 3, 4)).astype("float32") for _ in range(3)]
    y = cls()(xs)
    np.testing.assert_allclose(y, fn(*xs), rtol=1e-6)
    assert y.dtype == np.float32


def test_subtract_requires_two_inputs(rng):
    a, b = rng.standard_normal((2, 2, 3))
    np.testing.assert_allclose(merging.Subtract()([a, b]), a - b, rtol=1e-6)
    with pytest.raises(ValueError, match="expects exactly 2 inputs. Received 3 inputs"):
        merging.Subtract()([a, b, a])


def test_merge_grads_are_separate_arrays():
    layer = merging.Add()
    x = np.ones((2, 3), dtype="float32")
    ctx = context([x, x])
    layer.forward(ctx, [x, x])
    grad = np.ones((2, 3), dtype="float32")
    grad.setflags(write=False)
    (ga, gb), _ = layer.backward(ctx, grad)
    assert ga is not gb and not np.shares_memory(ga, gb) and not np.shares_memory(ga, grad)


def test_maximum_tie_goes_to_first_input():
    layer = merging.Maximum()
    x = np.array([[1.0, 2.0]])
    ctx = context([x, x])
    layer.forward(ctx, [x, x.copy()])
    (g0, g1), _ = layer.backward(ctx, np.ones((1, 2)))
    assert g0.tolist() == [[1.0, 1.0]] and g1.tolist() == [[0.0, 0.0]]


def test_add_shape_mismatch_message():
    layer = merging.Add(name="add")
    with pytest.raises(ValueError) as info:
        layer.build([(None, 4, 4, 8), (None, 4, 4, 16)])
    message = str(info.value)
    assert "Layer 'add' (Add)" in message
    assert "(None, 4, 4, 8)" in message and "(None, 4, 4, 16)" in message
    with pytest.raises(ValueError, match=r"\(2, 4, 4, 8\) and \(2, 4, 4, 16\)"):
        merging.Add()([np.zeros((2, 4, 4, 8)), np.zeros((2, 4, 4, 16))])


def test_merge_needs_a_list():
    with pytest.raises(ValueError, match="must be called on a list of inputs"):
        merging.Add().build((None, 3))
    with pytest.raises(ValueError, match="at least 2 inputs. Received 1"):
        merging.Add().build([(None, 3)])


def test_output_shape_with_unknown_batch():
    assert merging.Add().compute_output_shape([(None, 3), (5, 3)]) == (5, 3)
    assert merging.Concatenate().compute_output_shape([(None, 4, 4, 8), (None, 4, 4, 16)]) == (
        None, 4, 4, 24)
    assert merging.Concatenate(axis=1).compute_output_shape([(None, 2, 3), (None, None, 3)]) == (
        None, None, 3)


def test_concatenate_values_and_errors(rng):
    a = rng.standard_normal((2, 3, 2)).astype("float32")
    b = rng.standard_normal((2, 3, 4)).astype("float32")
    np.testing.assert_array_equal(merging.Concatenate()([a, b]), np.concatenate([a, b], -1))
    with pytest.raises(ValueError, match=r"except on the concatenation axis \(axis=1\)"):
        merging.Concatenate(axis=1)([a, b])
    with pytest.raises(ValueError, match="Received: axis='1'"):
        merging.Concatenate(axis="1")
    assert merging.Concatenate(axis=1).get_config()["axis"] == 1
