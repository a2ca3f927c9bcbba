"""Property-based tests (hypothesis): ops against direct loops on random geometry, and gradients
of random small models against finite differences in float64."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import naive_avg_pool2d, naive_conv2d, naive_max_pool2d

from kernelnet import layers, ops
from kernelnet.models import Sequential
from kernelnet.utils import gradient_check, set_random_seed

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**16)
paddings = st.sampled_from(["valid", "same", 0, 1, 2, (1, 0), (0, 2)])


def _padding_total(padding) -> tuple[int, int]:
    if padding in ("valid", "same"):
        return 0, 0
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return 2 * ph, 2 * pw


def _fits(h, w, kh, kw, d, padding) -> bool:
    """Whether a 'valid'/explicit-padding window fits in the (padded) input at least once."""
    if padding == "same":
        return True
    th, tw = _padding_total(padding)
    return h + th >= (kh - 1) * d[0] + 1 and w + tw >= (kw - 1) * d[1] + 1


def assert_directional(analytic: float, numeric: float) -> None:
    """Relative error < 1e-7, with an absolute floor of 1e-7: a directional derivative can be
    near 0 while the central difference carries ~1e-16 * |f| / eps of rounding noise."""
    assert abs(analytic - numeric) < 1e-7 * max(1.0, abs(analytic) + abs(numeric)), \
        f"analytic {analytic!r} vs numeric {numeric!r}"


geometry = st.fixed_dictionaries({
    "n": st.integers(1, 2), "h": st.integers(1, 9), "w": st.integers(1, 9),
    "c": st.integers(1, 3), "kh": st.integers(1, 4), "kw": st.integers(1, 4),
    "s": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "d": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "padding": paddings, "seed": seeds,
})


@FAST
@given(g=geometry, c_out=st.integers(1, 3))
def test_conv2d_forward_and_backward_vs_loops(g, c_out):
    rng = np.random.default_rng(g["seed"])
    x = rng.standard_normal((g["n"], g["h"], g["w"], g["c"]))
    kernel = rng.standard_normal((g["kh"], g["kw"], g["c"], c_out))
    bias = rng.standard_normal(c_out)
    args = (g["s"], g["padding"], g["d"])
    if not _fits(g["h"], g["w"], g["kh"], g["kw"], g["d"], g["padding"]):
        with pytest.raises(ValueError, match="empty output"):
            ops.conv2d_forward(x, kernel, bias, *args)
        return
    y, cache = ops.conv2d_forward(x, kernel, bias, *args)
    np.testing.assert_allclose(y, naive_conv2d(x, kernel, bias, *args), atol=1e-10)
    # Directional derivative (Chainer's check): <grad, r> == (f(p + e r) - f(p - e r)) / 2e.
    upstream = rng.standard_normal(y.shape)
    dx, dk, db = ops.conv2d_backward(upstream, cache)
    for param, grad in ((x, dx), (kernel, dk), (bias, db)):
        r = rng.standard_normal(param.shape)
        eps = 1e-6
        param += eps * r
        plus = np.sum(ops.conv2d(x, kernel, bias, *args) * upstream)
        param -= 2 * eps * r
        minus = np.sum(ops.conv2d(x, kernel, bias, *args) * upstream)
        param += eps * r
        assert_directional(np.sum(grad * r), (plus - minus) / (2 * eps))


@FAST
@given(g=geometry)
def test_im2col_col2im_adjoint(g):
    rng = np.random.default_rng(g["seed"])
    shape = (g["n"], g["h"], g["w"], g["c"])
    args = (g["kh"], g["kw"], g["s"], g["padding"], g["d"])
    if not _fits(g["h"], g["w"], g["kh"], g["kw"], g["d"], g["padding"]):
        return
    x = rng.standard_normal(shape)
    cols = ops.im2col(x, *args)
    assert cols.shape[1] == g["kh"] * g["kw"] * g["c"]
    c = rng.standard_normal(cols.shape)
    back = ops.col2im(c, shape, *args)
    assert back.shape == shape
    assert np.isclose(np.sum(cols * c), np.sum(x * back), rtol=1e-10, atol=1e-12)


pool_geometry = st.fixed_dictionaries({
    "h": st.integers(1, 9), "w": st.integers(1, 9), "c": st.integers(1, 3),
    "p": st.tuples(st.integers(1, 4), st.integers(1, 4)),
    "s": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    "padding": st.sampled_from(["valid", "same"]), "seed": seeds,
})


@FAST
@given(g=pool_geometry, kind=st.sampled_from(["max", "avg"]))
def test_pool2d_forward_and_backward_vs_loops(g, kind):
    rng = np.random.default_rng(g["seed"])
    x = rng.standard_normal((2, g["h"], g["w"], g["c"]))
    forward = ops.max_pool2d_forward if kind == "max" else ops.avg_pool2d_forward
    backward = ops.max_pool2d_backward if kind == "max" else ops.avg_pool2d_backward
    naive = naive_max_pool2d if kind == "max" else naive_avg_pool2d
    args = (g["p"], g["s"], g["padding"])
    if g["padding"] == "valid" and (g["h"] < g["p"][0] or g["w"] < g["p"][1]):
        with pytest.raises(ValueError, match="empty output"):
            forward(x, *args)
        return
    y, cache = forward(x, *args)
    np.testing.assert_allclose(y, naive(x, *args), atol=1e-12)
    cache_free = ops.max_pool2d if kind == "max" else ops.avg_pool2d
    np.testing.assert_allclose(cache_free(x, *args), y, atol=1e-12)
    upstream = rng.standard_normal(y.shape)
    upstream.setflags(write=False)
    dx = backward(upstream, cache)
    r = rng.standard_normal(x.shape)
    eps = 1e-6
    plus = np.sum(naive(x + eps * r, *args) * upstream)
    minus = np.sum(naive(x - eps * r, *args) * upstream)
    assert_directional(np.sum(dx * r), (plus - minus) / (2 * eps))


SMOOTH = ["tanh", "sigmoid", "softplus", "linear", "elu", "gelu", "swish"]


@st.composite
def small_models(draw):
    """Random stacks: 1-2 x [Conv2D -> optional BatchNorm -> optional pool] -> Flatten -> Dense."""
    size = draw(st.integers(5, 8))
    channels = draw(st.integers(1, 2))
    stack = []
    for _ in range(draw(st.integers(1, 2))):
        batch_norm = draw(st.booleans())
        # Before BatchNormalization the activation must be nonlinear: through a linear one the
        # batch mean cancels every constant shift (this conv's bias, an earlier BN's beta), so
        # those gradients are exactly 0 and a relative error of rounding noise is meaningless.
        activations = SMOOTH[:3] if batch_norm else SMOOTH
        stack.append(layers.Conv2D(
            draw(st.integers(1, 3)), draw(st.integers(1, 3)),
            strides=draw(st.integers(1, 2)), padding=draw(st.sampled_from(["valid", "same"])),
            activation=draw(st.sampled_from(activations))))
        if batch_norm:
            stack.append(layers.BatchNormalization())
        pool = draw(st.sampled_from([None, "max", "avg"]))
        if pool == "max":
            stack.append(layers.MaxPooling2D(2, padding="same"))
        elif pool == "avg":
            stack.append(layers.AveragePooling2D(2, padding="same"))
    stack.append(layers.Flatten())
    if draw(st.booleans()):
        stack.append(layers.Dense(draw(st.integers(2, 4)),
                                  activation=draw(st.sampled_from(SMOOTH))))
    stack.append(layers.Dense(3, activation="softmax"))
    return (size, size, channels), stack


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(spec=small_models(), seed=seeds)
def test_random_small_models_gradients(float64, spec, seed):
    input_shape, stack = spec
    rng = np.random.default_rng(seed)
    set_random_seed(seed)  # weight initialisation draws from the library generator
    try:
        model = Sequential([layers.Input(input_shape), *stack])
        model.build((None, *input_shape))
    except ValueError as err:  # a stride-2 'valid' stack can shrink a 5x5 image to nothing
        assert "empty output" in str(err)
        return
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = rng.standard_normal((4, *input_shape))
    y = rng.integers(0, 3, 4)
    # eps=1e-5: truncation error ~eps**2 stays far below 1e-6, while rounding noise
    # (~1e-16 / eps) does not swamp the small gradients of saturating activations.
    errors = gradient_check(model, x, y, eps=1e-5, max_elements=24, seed=seed)
    assert len(errors) == len(model.trainable_weights)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, f"{worst}: {errors[worst]:.2e}"
