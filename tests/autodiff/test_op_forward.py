"""`kernelnet.ops` forward values against direct references, ops without a gradient, the
plain-array contract the layers rely on, and the error messages."""

import math

import numpy as np
import pytest
from reference import naive_avg_pool2d, naive_conv2d, naive_max_pool2d

import kernelnet as kn
from kernelnet import activations, backend, ops


@pytest.mark.parametrize("strides, padding, dilation", [(1, "valid", 1), (2, "same", 1),
                                                        (1, "same", 2), ((2, 1), "valid", 1)])
def test_conv_matches_loop_reference(rng, strides, padding, dilation):
    x = rng.standard_normal((2, 7, 8, 3))
    k = rng.standard_normal((3, 2, 3, 4))
    y = ops.conv(x, k, strides=strides, padding=padding, dilation_rate=dilation)
    np.testing.assert_allclose(y, naive_conv2d(x, k, None, strides, padding, dilation),
                               rtol=1e-10, atol=1e-12)
    nchw = ops.conv(x.transpose(0, 3, 1, 2), k, strides, padding, "channels_first", dilation)
    np.testing.assert_allclose(nchw, y.transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pool, strides, padding", [(2, None, "valid"), (3, 2, "same"),
                                                    ((2, 3), 1, "valid")])
def test_pools_match_loop_references(rng, pool, strides, padding):
    x = rng.standard_normal((2, 7, 6, 3))
    np.testing.assert_allclose(ops.max_pool(x, pool, strides, padding),
                               naive_max_pool2d(x, pool, strides, padding))
    np.testing.assert_allclose(ops.average_pool(x, pool, strides, padding),
                               naive_avg_pool2d(x, pool, strides, padding), rtol=1e-12)


def _resize_loop(x, size, method):
    """Direct per-pixel resize with half-pixel centers (TensorFlow 2 / JAX, no antialias)."""
    n, h, w, c = x.shape
    out = np.zeros((n, size[0], size[1], c))
    for i in range(size[0]):
        for j in range(size[1]):
            if method == "nearest":
                si = min(int(math.floor((i + 0.5) * h / size[0])), h - 1)
                sj = min(int(math.floor((j + 0.5) * w / size[1])), w - 1)
                out[:, i, j] = x[:, si, sj]
                continue
            fi = min(max((i + 0.5) * h / size[0] - 0.5, 0), h - 1)
            fj = min(max((j + 0.5) * w / size[1] - 0.5, 0), w - 1)
            i0, j0 = int(fi), int(fj)
            i1, j1 = min(i0 + 1, h - 1), min(j0 + 1, w - 1)
            a, b = fi - i0, fj - j0
            out[:, i, j] = ((1 - a) * (1 - b) * x[:, i0, j0] + (1 - a) * b * x[:, i0, j1]
                            + a * (1 - b) * x[:, i1, j0] + a * b * x[:, i1, j1])
    return out


@pytest.mark.parametrize("size", [(5, 9), (2, 3), (4, 4), (1, 7)])
@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_resize_matches_loop_reference(rng, size, method):
    x = rng.standard_normal((2, 4, 6, 3))
    np.testing.assert_allclose(ops.image.resize(x, size, interpolation=method),
                               _resize_loop(x, size, method), rtol=1e-10, atol=1e-12)


def test_resize_options():
    x = np.arange(2 * 8 * 4 * 1.0).reshape(2, 8, 4, 1)
    np.testing.assert_allclose(ops.image.resize(x, (8, 4)), x)        # same size: identity
    cropped = ops.image.resize(x, (2, 2), crop_to_aspect_ratio=True)  # the central 4x4 block
    np.testing.assert_allclose(cropped, ops.image.resize(x[:, 2:6], (2, 2)))
    # antialiasing averages over the whole footprint: a 4x4 -> 1x1 resize is the mean
    np.testing.assert_allclose(ops.image.resize(x[:, :4], (1, 1), antialias=True)[:, 0, 0],
                               x[:, :4].mean(axis=(1, 2)))
    padded = ops.image.resize(x, (2, 2), pad_to_aspect_ratio=True, fill_value=-1.0)
    wide = np.concatenate([np.full((2, 8, 2, 1), -1.0), x, np.full((2, 8, 2, 1), -1.0)], 2)
    np.testing.assert_allclose(padded, ops.image.resize(wide, (2, 2)))
    first = ops.image.resize(x.transpose(0, 3, 1, 2), (3, 5), data_format="channels_first")
    np.testing.assert_allclose(first, ops.image.resize(x, (3, 5)).transpose(0, 3, 1, 2))


def test_activations_match_formulas(rng):
    x = rng.standard_normal((4, 5))
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(ops.gelu(x, approximate=False), x * 0.5 * (1 + erf(x / 2**0.5)),
                               atol=2e-7)
    c = math.sqrt(2 / math.pi)
    np.testing.assert_allclose(ops.gelu(x), 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3))))
    # keras.activations.gelu is exact by default, keras.ops.gelu approximate
    np.testing.assert_allclose(activations.gelu(x), ops.gelu(x, approximate=False))
    np.testing.assert_allclose(ops.sigmoid(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(ops.log_sigmoid(x), np.log(1 / (1 + np.exp(-x))))
    np.testing.assert_allclose(ops.silu(x), x / (1 + np.exp(-x)))
    e = np.exp(x)
    np.testing.assert_allclose(ops.softmax(x), e / e.sum(-1, keepdims=True))
    np.testing.assert_allclose(ops.softmax(x, axis=0), e / e.sum(0, keepdims=True))
    np.testing.assert_allclose(ops.log_softmax(x), np.log(e / e.sum(-1, keepdims=True)))
    np.testing.assert_allclose(ops.softmax(np.array([1000.0, 0.0])), [1.0, 0.0])  # stable


def test_crossentropies_match_formulas(rng):
    logits = rng.standard_normal((6, 4))
    ids = rng.integers(0, 4, 6)
    onehot = np.eye(4)[ids]
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = -np.log(p[np.arange(6), ids])
    np.testing.assert_allclose(ops.categorical_crossentropy(onehot, logits, from_logits=True),
                               expected)
    np.testing.assert_allclose(ops.categorical_crossentropy(onehot, p), expected)
    np.testing.assert_allclose(ops.sparse_categorical_crossentropy(ids, logits, True), expected)
    np.testing.assert_allclose(ops.sparse_categorical_crossentropy(ids[:, None], p), expected)
    # probabilities are renormalized and clipped to [eps, 1 - eps], as Keras does
    eps = backend.epsilon()
    assert float(ops.categorical_crossentropy(np.array([1.0, 0.0]), np.array([0.0, 2.0]))) == \
        pytest.approx(-math.log(eps))
    t = rng.uniform(0, 1, (3, 2))
    z = rng.standard_normal((3, 2))
    s = 1 / (1 + np.exp(-z))
    bce = -(t * np.log(s) + (1 - t) * np.log(1 - s))
    np.testing.assert_allclose(ops.binary_crossentropy(t, z, from_logits=True), bce)
    np.testing.assert_allclose(ops.binary_crossentropy(t, s), bce)
    big = ops.binary_crossentropy(np.array([0.0]), np.array([800.0]), from_logits=True)
    assert np.isfinite(big).all() and float(big[0]) == pytest.approx(800.0)


def test_fused_crossentropy_uses_the_logits_behind_softmax():
    z = ops.convert_to_tensor(np.array([[60.0, 0.0]]))
    # softmax(z)[1] underflows to ~1e-26; clipping would give -log(eps), the logits give 60
    loss = ops.categorical_crossentropy(np.array([[0.0, 1.0]]), ops.softmax(z))
    assert float(loss[0]) == pytest.approx(60.0)
    loss = ops.binary_crossentropy(np.array([1.0]), ops.sigmoid(ops.convert_to_tensor(
        np.array([-50.0]))))
    assert float(loss[0]) == pytest.approx(50.0)


def test_dot_matches_numpy(rng):
    for a, b in [((2, 3, 4), (5, 4, 2)), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)),
                 ((2, 3), ())]:
        x, y = rng.standard_normal(a), rng.standard_normal(b)
        np.testing.assert_allclose(ops.dot(x, y), np.dot(x, y))


def test_one_hot_argmax_and_creation():
    y = ops.one_hot(np.array([[0, 2], [1, 5]]), 3)
    assert y.dtype == backend.floatx()
    np.testing.assert_array_equal(y, [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 0]]])
    np.testing.assert_array_equal(ops.one_hot(np.array([1, 0]), 2, axis=0), [[0, 1], [1, 0]])
    x = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert ops.argmax(x, axis=-1).tolist() == [1, 0]
    assert ops.argmin(x).tolist() == 4
    assert ops.ones((2, 3)).dtype == backend.floatx() and ops.zeros(2, "int32").dtype == "int32"
    assert ops.arange(4).tolist() == [0, 1, 2, 3] and ops.arange(4).dtype == "int32"
    assert ops.shape(ops.ones((2, 3))) == (2, 3)
    assert ops.arange(1, 2, 0.5).tolist() == [1.0, 1.5]
    assert ops.zeros_like(x).tolist() == np.zeros((2, 3)).tolist()
    assert ops.ones_like(x, dtype="int32").dtype == "int32"
    assert ops.max(x, axis=0, initial=6.0).tolist() == [7.0, 6.0, 6.0]


@pytest.mark.parametrize("fn", [
    lambda x: ops.argmax(x, axis=-1), lambda x: ops.argmin(x, axis=0),
    lambda x: ops.one_hot(ops.argmax(x, axis=-1), 3), lambda x: ops.greater(x, 0.0),
    lambda x: ops.less_equal(x, 0.1), lambda x: ops.equal(x, x), lambda x: ops.not_equal(x, 0),
    lambda x: ops.greater_equal(x, 0), lambda x: ops.less(x, 0), lambda x: x > 0,
    lambda x: ops.sign(x), lambda x: ops.zeros_like(x), lambda x: ops.ones_like(x),
    lambda x: ops.stop_gradient(x),
])
def test_non_differentiable_ops_give_no_gradient(rng, fn):
    x = ops.convert_to_tensor(rng.standard_normal((3, 3)))
    w = kn.Variable(rng.standard_normal(3))
    with kn.GradientTape() as tape:
        tape.watch(x)
        out = fn(x)
        loss = ops.sum(ops.cast(out, "float64") * w)
    gx, gw = tape.gradient(loss, [x, w])
    assert gx is None
    assert gw is not None  # the rest of the graph is still recorded
    assert not getattr(out, "_node_recorded", False)


def test_stop_gradient_blocks_one_path():
    x = ops.convert_to_tensor(np.array([1.0, 2.0]))
    with kn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(x * ops.stop_gradient(x))
    np.testing.assert_allclose(tape.gradient(y, x), [1.0, 2.0])  # not 2x


def test_max_ties_share_the_gradient():
    x = ops.convert_to_tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    with kn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.max(x, axis=1))
    np.testing.assert_allclose(tape.gradient(y, x), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_plain_arrays_in_give_plain_arrays_of_the_same_dtype():
    """What layers call: NumPy in, NumPy out, dtype kept (ops.nn keeps its kernels' contract)."""
    z = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    for fn in (ops.nn.relu, ops.nn.sigmoid, ops.nn.tanh, ops.nn.softmax, ops.nn.gelu,
               ops.nn.silu, ops.nn.log_softmax, ops.exp, ops.square, ops.mean):
        out = fn(z)
        assert isinstance(out, (np.ndarray, np.float32)) and out.dtype == np.float32, fn
    assert ops.nn.relu([-1.0, 2.0]).tolist() == [0.0, 2.0]
    assert type(ops.conv(np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1)))) is np.ndarray
    assert ops.nn.conv is ops.conv and ops.nn.one_hot is ops.one_hot


@pytest.mark.parametrize("call, match", [
    (lambda: ops.maximum(np.ones((2, 3)), np.ones((4,))), r"ops\.maximum.*\(2, 3\) and \(4,\)"),
    (lambda: ops.where(np.ones(3, bool), np.ones((2,)), 1.0), r"ops\.where.*\(3,\)"),
    (lambda: ops.concatenate([np.ones((2, 3)), np.ones((2, 4))], axis=0),
     r"ops\.concatenate.*\[\(2, 3\), \(2, 4\)\]"),
    (lambda: ops.stack([np.ones(2), np.ones(3)]), r"ops\.stack.*\[\(2,\), \(3,\)\]"),
    (lambda: ops.dot(np.ones((2, 3)), np.ones((2, 3))), r"ops\.dot.*\(2, 3\) and \(2, 3\)"),
    (lambda: ops.conv(np.ones((1, 5, 5, 2)), np.ones((3, 3, 3, 4))),
     r"ops\.conv.*\(1, 5, 5, 2\) and \(3, 3, 3, 4\)"),
    (lambda: ops.conv(np.ones((5, 5, 2)), np.ones((3, 3, 2, 4))), r"ops\.conv.*\(5, 5, 2\)"),
    (lambda: ops.max_pool(np.ones((5, 5)), 2), r"ops\.max_pool.*\(5, 5\)"),
    (lambda: ops.average_pool(np.ones((1, 4, 4, 1)), 2, padding="full"), r"padding='full'"),
    (lambda: ops.reshape(np.ones((2, 3)), (4, 2)), r"ops\.reshape.*\(2, 3\).*\(4, 2\)"),
    (lambda: ops.squeeze(np.ones((2, 3)), axis=0), r"ops\.squeeze.*\(2, 3\)"),
    (lambda: ops.squeeze(np.ones((2, 1)), axis=3), r"ops\.squeeze: axis 3.*\(2, 1\)"),
    (lambda: ops.expand_dims(np.ones((2, 1)), 4), r"ops\.expand_dims: axis 4.*\(2, 1\)"),
    (lambda: ops.mean(np.ones((2, 3)), axis=2), r"ops\.mean.*axis 2.*\(2, 3\)"),
    (lambda: ops.categorical_crossentropy(np.ones((2, 3)), np.ones((2, 4))),
     r"target\.shape=\(2, 3\), output\.shape=\(2, 4\)"),
    (lambda: ops.sparse_categorical_crossentropy(np.zeros(3, int), np.ones((2, 4))),
     r"target\.shape=\(3,\), output\.shape=\(2, 4\)"),
    (lambda: ops.sparse_categorical_crossentropy(np.array([0, 4]), np.ones((2, 4))),
     r"\[0, 4\).*from 0 to 4"),
    (lambda: ops.binary_crossentropy(np.ones(3), np.ones((3, 1))), r"target\.shape=\(3,\)"),
    (lambda: ops.image.resize(np.ones((4, 4)), (2, 2)), r"resize.*\(4, 4\)"),
    (lambda: ops.image.resize(np.ones((1, 4, 4, 1)), (2, 2), interpolation="cubic"),
     r"interpolation='cubic'"),
    (lambda: ops.one_hot(np.array([0.5]), 2), r"one_hot.*integer"),
    (lambda: ops.image.resize(np.ones((1, 4, 4, 1)), (2, 2), crop_to_aspect_ratio=True,
                              pad_to_aspect_ratio=True), r"only one of"),
])
def test_errors_name_the_op_and_the_shapes(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_get_item_errors_and_tensor_keys():
    x = ops.convert_to_tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(IndexError, match=r"ops\.get_item.*\(2, 3\)"):
        x[5]
    assert x[ops.convert_to_tensor(np.array([1, 0]))].tolist() == [[3, 4, 5], [0, 1, 2]]
    assert x[x > 2.5].tolist() == [3.0, 4.0, 5.0]
