"""GradientTape semantics: sources, seeds, persistence, pruning and the errors users meet."""

import numpy as np
import pytest

import kernelnet as kn
from kernelnet import ops
from kernelnet.autodiff import tape as tape_module


def numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


def test_expression_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4))
    w0 = rng.normal(size=(4, 2))
    b0 = rng.normal(size=(2,))

    def f(a_, w_, b_):
        return np.sum((a_ @ w_ + b_) ** 2 / (1.5 + np.abs(a_[:, :2]).sum())
                      - 3 * a_[1:, :2].T[0, 0])

    x = ops.convert_to_tensor(a)
    w, b = kn.Variable(w0), kn.Variable(b0)
    with kn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum((x @ w + b) ** 2 / (1.5 + ops.sum(ops.abs(x[:, :2])))
                    - 3 * ops.transpose(x[1:, :2])[0, 0])
    np.testing.assert_allclose(float(y), f(a, w0, b0), rtol=1e-12)
    gx, gw, gb = tape.gradient(y, [x, w, b])
    np.testing.assert_allclose(gx, numeric_grad(lambda v: f(v, w0, b0), a.copy()), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(gw, numeric_grad(lambda v: f(a, v, b0), w0.copy()), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(gb, numeric_grad(lambda v: f(a, w0, v), b0.copy()), rtol=1e-6,
                               atol=1e-8)


def test_fan_out_sums_gradients_and_reflected_operators_record():
    x = ops.convert_to_tensor(np.array([2.0, 3.0]))
    with kn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(np.ones(2) * x + x * x - np.array([1.0, 1.0]) / x)
    np.testing.assert_allclose(tape.gradient(y, x), 1 + 2 * np.array([2.0, 3.0])
                               + 1 / np.array([4.0, 9.0]))


def test_sources_as_dict_and_unconnected():
    v1, v2 = kn.Variable(np.ones(2)), kn.Variable(np.ones(3))
    with kn.GradientTape() as tape:
        y = ops.sum(v1 * 3.0)
    grads = tape.gradient(y, {"a": v1, "b": v2})
    assert grads["b"] is None
    np.testing.assert_allclose(grads["a"], [3.0, 3.0])
    with kn.GradientTape() as tape:
        y = ops.sum(v1 * 3.0)
    assert tape.gradient(y, [v2], unconnected_gradients="zero")[0].tolist() == [0, 0, 0]


def test_non_persistent_tape_refuses_second_gradient():
    v = kn.Variable(np.ones(2))
    with kn.GradientTape() as tape:
        y = ops.sum(v * v)
    tape.gradient(y, v)
    with pytest.raises(RuntimeError, match="only be called once"):
        tape.gradient(y, v)


def test_persistent_tape_gives_gradients_twice():
    v = kn.Variable(np.array([1.0, 2.0]))
    with kn.GradientTape(persistent=True) as tape:
        y = ops.sum(v * v)
        z = ops.sum(v * 4.0)
    np.testing.assert_allclose(tape.gradient(y, v), [2.0, 4.0])
    np.testing.assert_allclose(tape.gradient(z, v), [4.0, 4.0])


def test_non_scalar_target_needs_a_seed():
    v = kn.Variable(np.ones(3))
    with kn.GradientTape() as tape:
        y = v * 2.0
    with pytest.raises(ValueError, match="output_gradients"):
        tape.gradient(y, v)
    with kn.GradientTape() as tape:
        y = v * 2.0
    np.testing.assert_allclose(tape.gradient(y, v, output_gradients=np.arange(3.0)),
                               [0.0, 2.0, 4.0])


def test_unwatched_tensor_is_constant_and_watch_rejects_arrays():
    x = ops.convert_to_tensor(np.ones(2))
    with kn.GradientTape() as tape:
        y = ops.sum(x * 2.0)
        with pytest.raises(TypeError, match="convert_to_tensor"):
            tape.watch(np.ones(2))
    with pytest.raises(TypeError, match="target must be a Tensor computed inside the tape"):
        tape.gradient(np.float64(1.0), x)
    assert not y._node_recorded  # nothing needed a gradient, so nothing was recorded


def test_stop_recording_and_nothing_recorded_outside_a_tape():
    v = kn.Variable(np.ones(2))
    y = v * 2.0
    assert isinstance(y, kn.autodiff.Tensor) and not y._node_recorded
    with kn.GradientTape() as tape:
        with tape.stop_recording():
            ops.sum(v * 2.0)
        assert tape._nodes == []
        ops.sum(v * 2.0)
    assert len(tape._nodes) == 2
    assert not tape_module.recording()


def test_plain_arrays_in_give_plain_arrays_out():
    out = ops.matmul(np.ones((2, 3)), np.ones((3, 4)))
    assert type(out) is np.ndarray and out.shape == (2, 4)


def test_gradient_wrt_weight_given_as_plain_array():
    v = kn.Variable(np.ones(2))
    with kn.GradientTape() as tape:
        y = ops.sum(v * 5.0)
    np.testing.assert_allclose(tape.gradient(y, [v.value])[0], [5.0, 5.0])


@pytest.mark.parametrize("op, a, b", [
    (ops.add, (2, 3), (4, 3)), (ops.multiply, (2, 3), (2,)), (ops.matmul, (2, 3), (4, 5)),
    (ops.subtract, (3,), (4,)),
])
def test_incompatible_shapes_name_the_op_and_shapes(op, a, b):
    with pytest.raises(ValueError, match=rf"ops\.{op.__name__}.*\({a[0]}"):
        op(np.ones(a), np.ones(b))


def test_variable_in_place_updates_reach_the_array():
    v = kn.Variable(np.zeros(3), name="v")
    arr = v.value
    v.assign([1, 2, 3])
    v.assign_sub(np.ones(3))
    v += np.ones(3)
    assert arr is v.value and v.numpy().tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="shape"):
        v.assign(np.ones(4))
