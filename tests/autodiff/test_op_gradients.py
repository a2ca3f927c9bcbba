"""Every differentiable `kernelnet.ops` op and Python operator against float64 central
differences, on random shapes with broadcasting, for contiguous and non-contiguous inputs
(transposed and strided views).

Each case is `(fn, makers)`: `fn(*inputs)` on Tensors is recorded by a GradientTape; the same
`fn` on plain arrays is the function finite differences evaluate. The loss is
`sum(fn(*inputs) * upstream)` with a random upstream, so every output element is checked.
"""

import operator
import zlib

import numpy as np
import pytest
from helpers import numerical_grad, rel_error
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kernelnet as kn
from kernelnet import ops


def anyv(*shape):
    return lambda rng: rng.standard_normal(shape)


def pos(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def away(*shape, kinks=(0.0,)):
    """Normal values at least 0.05 from every kink (relu at 0, relu6 at 0 and 6, ...)."""
    def make(rng):
        x = rng.standard_normal(shape) * 3
        for k in kinks:
            near = np.abs(x - k) < 0.05
            x[near] = k + 0.1 * np.sign(x[near] - k + 1e-12)
        return x
    return make


def distinct(*shape):
    """A permutation of well-separated values: no ties for max/min/max_pool."""
    return lambda rng: rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(
        0, 0.01, shape)


def probs(*shape):
    return lambda rng: rng.dirichlet(np.ones(shape[-1]), shape[:-1])


def labels01(*shape):
    return lambda rng: rng.uniform(0, 1, shape)


CASES = {
    # Python operators, with broadcasting
    "add": (operator.add, [anyv(3, 4), anyv(4)]),
    "radd": (lambda a: 1.5 + a, [anyv(2, 3)]),
    "sub_broadcast": (operator.sub, [anyv(3, 1), anyv(1, 4)]),
    "rsub": (lambda a: 2.0 - a, [anyv(2, 3)]),
    "mul_broadcast": (operator.mul, [anyv(2, 1, 3), anyv(4, 1)]),
    "truediv": (operator.truediv, [anyv(2, 3), pos(3)]),
    "rtruediv": (lambda a: 3.0 / a, [pos(2, 3)]),
    "pow": (operator.pow, [pos(2, 3), anyv(3)]),
    "pow_scalar": (lambda a: a ** 3, [anyv(4, 2)]),
    "neg": (operator.neg, [anyv(3, 2)]),
    "matmul_op": (operator.matmul, [anyv(3, 4), anyv(4, 5)]),
    "matmul_batched_broadcast": (operator.matmul, [anyv(2, 1, 3, 4), anyv(3, 4, 2)]),
    "matmul_vec_mat": (ops.matmul, [anyv(4), anyv(4, 3)]),
    "matmul_mat_vec": (ops.matmul, [anyv(3, 4), anyv(4)]),
    "getitem_slice": (lambda a: a[1:, ::2], [anyv(4, 5)]),
    "getitem_int_none": (lambda a: a[1, None, ..., -1], [anyv(3, 4, 5)]),
    "getitem_fancy_repeated": (lambda a: a[np.array([0, 2, 0])], [anyv(3, 4)]),
    "getitem_mask": (lambda a: a[np.array([True, False, True])], [anyv(3, 2)]),
    "abs": (abs, [away(3, 4)]),
    "T": (lambda a: a.T, [anyv(2, 3)]),
    # keras.ops.numpy
    "dot_nd": (ops.dot, [anyv(2, 3, 4), anyv(5, 4, 2)]),
    "dot_vec": (ops.dot, [anyv(3), anyv(3)]),
    "dot_mat_vec": (ops.dot, [anyv(2, 3), anyv(3)]),
    "dot_scalar": (ops.dot, [anyv(2, 3), lambda rng: np.float64(1.7)]),
    "sum_axis": (lambda a: ops.sum(a, axis=(0, 2)), [anyv(2, 3, 4)]),
    "sum_keepdims": (lambda a: ops.sum(a, axis=-1, keepdims=True), [anyv(2, 3)]),
    "mean_all": (ops.mean, [anyv(3, 4)]),
    "mean_axis": (lambda a: ops.mean(a, axis=1), [anyv(2, 3, 4)]),
    "mean_keepdims": (lambda a: ops.mean(a, axis=(0, 2), keepdims=True), [anyv(2, 3, 4)]),
    "max_axis": (lambda a: ops.max(a, axis=1), [distinct(3, 4, 2)]),
    "max_all": (ops.max, [distinct(3, 4)]),
    "min_keepdims": (lambda a: ops.min(a, axis=0, keepdims=True), [distinct(3, 4)]),
    "var": (lambda a: ops.var(a, axis=-1), [anyv(3, 5)]),
    "std": (lambda a: ops.std(a, axis=0), [anyv(4, 3)]),
    "exp": (ops.exp, [anyv(3, 4)]),
    "log": (ops.log, [pos(3, 4)]),
    "sqrt": (ops.sqrt, [pos(3, 4)]),
    "square": (ops.square, [anyv(3, 4)]),
    "power": (ops.power, [pos(3, 4), anyv(4)]),
    "tanh": (ops.tanh, [anyv(3, 4)]),
    "maximum": (ops.maximum, [anyv(3, 4), anyv(4)]),
    "minimum": (ops.minimum, [anyv(3, 1), anyv(1, 4)]),
    "clip": (lambda a: ops.clip(a, -0.5, 0.7), [away(4, 5, kinks=(-0.5, 0.7))]),
    "where": (lambda a, b: ops.where(np.arange(4) % 2 == 0, a, b), [anyv(3, 4), anyv(3, 1)]),
    "reshape": (lambda a: ops.reshape(a, (4, -1)), [anyv(2, 3, 2)]),
    "reshape_method": (lambda a: a.reshape(3, 4), [anyv(2, 6)]),
    "transpose_axes": (lambda a: ops.transpose(a, (2, 0, 1)), [anyv(2, 3, 4)]),
    "expand_dims": (lambda a: ops.expand_dims(a, (0, -1)), [anyv(2, 3)]),
    "squeeze": (lambda a: ops.squeeze(a, axis=1), [anyv(3, 1, 2)]),
    "squeeze_all": (ops.squeeze, [anyv(1, 3, 1)]),
    "concatenate": (lambda a, b, c: ops.concatenate([a, b, c], axis=1),
                    [anyv(2, 1, 3), anyv(2, 4, 3), anyv(2, 2, 3)]),
    "stack": (lambda a, b: ops.stack([a, b], axis=-1), [anyv(3, 2), anyv(3, 2)]),
    "cast": (lambda a: ops.cast(a, "float64") * 2.0, [anyv(2, 3)]),
    # keras.ops.nn
    "relu": (ops.relu, [away(3, 4)]),
    "relu6": (ops.relu6, [away(3, 4, kinks=(0.0, 6.0))]),
    "leaky_relu": (lambda a: ops.leaky_relu(a, negative_slope=0.3), [away(3, 4)]),
    "elu": (ops.elu, [away(3, 4)]),
    "selu": (ops.selu, [away(3, 4)]),
    "sigmoid": (ops.sigmoid, [anyv(3, 4)]),
    "log_sigmoid": (ops.log_sigmoid, [anyv(3, 4)]),
    "hard_sigmoid": (ops.hard_sigmoid, [away(3, 4, kinks=(-3.0, 3.0))]),
    "softplus": (ops.softplus, [anyv(3, 4)]),
    "softsign": (ops.softsign, [away(3, 4)]),
    "silu": (ops.silu, [anyv(3, 4)]),
    "gelu_tanh": (ops.gelu, [anyv(3, 4)]),
    "gelu_exact": (lambda a: ops.gelu(a, approximate=False), [anyv(3, 4)]),
    "softmax": (ops.softmax, [anyv(3, 5)]),
    "softmax_axis0": (lambda a: ops.softmax(a, axis=0), [anyv(3, 5)]),
    "log_softmax": (lambda a: ops.log_softmax(a, axis=1), [anyv(2, 4, 3)]),
    "conv_valid": (ops.conv, [anyv(2, 6, 5, 3), anyv(3, 2, 3, 4)]),
    "conv_same_strided": (lambda x, k: ops.conv(x, k, strides=2, padding="same"),
                          [anyv(2, 7, 6, 2), anyv(3, 3, 2, 3)]),
    "conv_dilated": (lambda x, k: ops.conv(x, k, dilation_rate=2),
                     [anyv(1, 7, 7, 2), anyv(2, 3, 2, 2)]),
    "conv_1x1": (ops.conv, [anyv(2, 3, 4, 3), anyv(1, 1, 3, 2)]),
    "conv_channels_first": (lambda x, k: ops.conv(x, k, padding="same",
                                                  data_format="channels_first"),
                            [anyv(2, 3, 5, 4), anyv(3, 3, 3, 2)]),
    "max_pool": (lambda x: ops.max_pool(x, 2), [distinct(2, 5, 4, 3)]),
    "max_pool_same_overlap": (lambda x: ops.max_pool(x, 3, strides=2, padding="same"),
                              [distinct(2, 5, 5, 2)]),
    "average_pool": (lambda x: ops.average_pool(x, (2, 3), strides=1), [anyv(2, 4, 5, 2)]),
    "average_pool_same": (lambda x: ops.average_pool(x, 3, strides=2, padding="same"),
                          [anyv(1, 5, 6, 2)]),
    "cce_logits": (lambda t, z: ops.categorical_crossentropy(t, z, from_logits=True),
                   [probs(4, 5), anyv(4, 5)]),
    "cce_probs": (ops.categorical_crossentropy, [probs(4, 5), probs(4, 5)]),
    "cce_fused_softmax": (lambda t, z: ops.categorical_crossentropy(t, ops.softmax(z)),
                          [probs(3, 4), anyv(3, 4)]),
    "sparse_cce_logits": (lambda z: ops.sparse_categorical_crossentropy(
        np.array([2, 0, 1]), z, from_logits=True), [anyv(3, 4)]),
    "sparse_cce_probs": (lambda z: ops.sparse_categorical_crossentropy(
        np.array([[2], [0], [3]]), z), [probs(3, 4)]),
    "bce_logits": (lambda t, z: ops.binary_crossentropy(t, z, from_logits=True),
                   [labels01(3, 2), anyv(3, 2)]),
    "bce_probs": (ops.binary_crossentropy, [labels01(3, 2), lambda rng: rng.uniform(
        0.1, 0.9, (3, 2))]),
    "bce_fused_sigmoid": (lambda t, z: ops.binary_crossentropy(t, ops.sigmoid(z)),
                          [labels01(4), anyv(4)]),
    # keras.ops.image
    "resize_bilinear_up": (lambda x: ops.image.resize(x, (5, 7)), [anyv(2, 3, 4, 2)]),
    "resize_bilinear_down": (lambda x: ops.image.resize(x, (3, 2)), [anyv(1, 7, 5, 2)]),
    "resize_antialias": (lambda x: ops.image.resize(x, (2, 3), antialias=True),
                         [anyv(1, 6, 7, 1)]),
    "resize_nearest": (lambda x: ops.image.resize(x, (5, 3), interpolation="nearest"),
                       [anyv(2, 3, 4, 1)]),
    "resize_pad_aspect": (lambda x: ops.image.resize(x, (3, 3), pad_to_aspect_ratio=True),
                          [anyv(1, 2, 4, 2)]),
    "resize_crop_aspect": (lambda x: ops.image.resize(x, (2, 2), crop_to_aspect_ratio=True),
                           [anyv(1, 3, 5, 1)]),
    "resize_single_image": (lambda x: ops.image.resize(x, (4, 4)), [anyv(3, 2, 2)]),
}


def _non_contiguous(a: np.ndarray) -> np.ndarray:
    """The same values as a non-contiguous view: every second element along the last axis of
    a buffer holding the transpose (so, for ndim >= 2, also in transposed order)."""
    if a.ndim == 0:
        return a
    t = a.T
    buffer = np.full(t.shape[:-1] + (2 * t.shape[-1],), np.nan)
    buffer[..., ::2] = t
    view = buffer[..., ::2].T
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(view, a)
    return view


@pytest.mark.parametrize("layout", ["contiguous", "non_contiguous"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradient_matches_finite_differences(name, layout):
    fn, makers = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [np.asarray(make(rng), dtype=np.float64) for make in makers]
    if layout == "non_contiguous":
        arrays = [_non_contiguous(a) for a in arrays]
    tensors = [ops.convert_to_tensor(a) for a in arrays]
    with kn.GradientTape() as tape:
        tape.watch(tensors)
        out = fn(*tensors)
    assert isinstance(out, kn.autodiff.Tensor), f"{name}: a Tensor in must give a Tensor out"
    expected = fn(*arrays)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-12, atol=1e-12)
    upstream = rng.standard_normal(np.shape(expected))
    grads = tape.gradient(out, tensors, output_gradients=upstream)

    copies = [a.copy() for a in arrays]
    for i, (copy, grad) in enumerate(zip(copies, grads)):
        def loss():
            return float(np.sum(np.asarray(fn(*copies)) * upstream))

        assert grad is not None, f"{name}: no gradient for input {i}"
        assert grad.shape == copy.shape
        err = rel_error(grad, numerical_grad(loss, copy))
        assert err < 1e-7, f"{name}: input {i} rel error {err:.2e}"


def test_every_differentiable_keras_name_has_a_gradient_case():
    """The issue's list of ops: each appears in CASES (by name or through an operator)."""
    names = " ".join(CASES)
    for op in ["add", "sub", "mul", "truediv", "matmul", "pow", "neg", "getitem", "dot", "sum",
               "mean", "max", "min", "exp", "log", "sqrt", "square", "abs", "power", "maximum",
               "minimum", "clip", "where", "reshape", "transpose", "expand_dims", "squeeze",
               "concatenate", "stack", "cast", "relu", "sigmoid", "tanh", "softmax",
               "log_softmax", "gelu", "silu", "conv", "max_pool", "average_pool", "cce",
               "sparse_cce", "bce", "resize"]:
        assert op in names, op


BINARY = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
          "divide": operator.truediv, "power": operator.pow, "maximum": ops.maximum,
          "minimum": ops.minimum, "where": lambda a, b: ops.where(np.asarray(a) > 0, a, b)}


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       name=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_binary_ops_broadcast_on_random_shapes(shapes, name, seed):
    """Random mutually broadcastable shape pairs: the gradient is summed back to each input's
    shape (including size-1 axes and missing leading axes)."""
    fn = BINARY[name]
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shapes.input_shapes[0])    # positive: power and divide
    b = rng.uniform(-2.0, 2.0, shapes.input_shapes[1])
    if name in ("maximum", "minimum"):
        b = b + 3.0 * (rng.random(b.shape) > 0.5) - 1.5  # no ties within 0.5 of each other
    if name == "divide":
        b = np.abs(b) + 0.5
    a, b = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)  # 0-d stays an array
    ta, tb = ops.convert_to_tensor(a), ops.convert_to_tensor(b)
    with kn.GradientTape() as tape:
        tape.watch([ta, tb])
        out = fn(ta, tb)
    assert out.shape == shapes.result_shape
    # One sign, so that the sums over broadcast axes never cancel to ~0, where the relative
    # error of a correct gradient measures the finite differences' rounding (seen: 2e-7 for
    # add with shapes (), (3,)).
    upstream = rng.uniform(0.5, 1.5, shapes.result_shape)
    ga, gb = tape.gradient(out, [ta, tb], output_gradients=upstream)
    for arr, grad in ((a, ga), (b, gb)):
        def loss():
            return float(np.sum(np.asarray(fn(a, b)) * upstream))

        assert grad.shape == arr.shape
        assert rel_error(grad, numerical_grad(loss, arr)) < 1e-7


@pytest.mark.parametrize("exponent", [3, np.int64(3), 2.5, np.float64(2.5)])
def test_power_gradient_keeps_float32(exponent):
    # an int or float64 scalar exponent must not promote a float32 gradient to float64
    x = kn.Variable(np.full((2, 2), 2.0, dtype="float32"))
    with kn.GradientTape() as tape:
        y = ops.sum(ops.power(x, exponent))
    grad = tape.gradient(y, x)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, exponent * 2.0 ** (exponent - 1), rtol=1e-6)
