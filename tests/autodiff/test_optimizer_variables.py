"""Optimizers on Variables and on plain weight arrays: `apply_gradients(zip(grads, vars))`,
`apply(grads, vars)`, shared slots, Keras 3's `iterations` Variable, and a tape-driven fit."""

import numpy as np
import pytest

import kernelnet as kn
from kernelnet import ops, optimizers


def test_apply_gradients_updates_variables_in_place():
    v = kn.Variable(np.array([1.0, 2.0]), name="v")
    w = kn.Variable(np.array([[0.5]]), name="w")
    array = v.value
    opt = optimizers.SGD(learning_rate=0.1)
    # w - lr * g: [1 - 0.1 * 2, 2 - 0.1 * -4] = [0.8, 2.4]; w: 0.5 - 0.1 * 1 = 0.4
    step = opt.apply_gradients(zip([np.array([2.0, -4.0]), np.array([[1.0]])], [v, w]))
    assert v.value is array
    np.testing.assert_allclose(v.numpy(), [0.8, 2.4])
    np.testing.assert_allclose(w.numpy(), [[0.4]])
    assert step is opt.iterations and int(step) == 1


def test_variables_and_their_arrays_share_slots():
    """A layer weight (plain array) and a Variable over it are one weight for the optimizer."""
    array = np.array([1.0, -1.0, 0.5])
    grads = [np.array([0.3, -0.2, 0.1]), np.array([0.1, 0.4, -0.5])]
    opt = optimizers.Adam(learning_rate=0.01)
    opt.apply([grads[0]], [kn.Variable.wrap(array)])
    opt.apply([ops.convert_to_tensor(grads[1])], [array])  # a Tensor gradient is fine too
    reference = np.array([1.0, -1.0, 0.5])
    ref_opt = optimizers.Adam(learning_rate=0.01)
    for g in grads:
        ref_opt.apply([g], [reference])
    np.testing.assert_allclose(array, reference, rtol=1e-12)
    assert len(opt._slots) == 1 and int(opt.iterations) == 2


def test_iterations_is_a_keras_variable():
    opt = optimizers.Adam()
    assert isinstance(opt.iterations, kn.Variable) and not opt.iterations.trainable
    assert opt.iterations.numpy() == 0 and opt.iterations.dtype == np.int64
    v = kn.Variable(np.ones(2))
    opt.apply_gradients([(np.ones(2), v)])
    opt.apply([None], [v])  # a None gradient skips the variable, the step still counts
    assert int(opt.iterations) == 2 and opt.iterations == 2
    opt.iterations = 7
    assert int(opt.iterations) == 7
    state = opt.get_state([v], ["v"])
    fresh = optimizers.Adam()
    fresh.set_state([kn.Variable.wrap(v.value)], ["v"], state)
    assert int(fresh.iterations) == 7
    np.testing.assert_array_equal(fresh._slots[id(v.value)]["m"], opt._slots[id(v.value)]["m"])


def test_schedules_see_the_step_count():
    schedule = optimizers.schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    v = kn.Variable(np.zeros(1))
    opt = optimizers.SGD(learning_rate=schedule)
    for _ in range(3):
        opt.apply([np.ones(1)], [v])
    np.testing.assert_allclose(v.numpy(), [-(1 + 0.5 + 0.25)])


def test_apply_without_variables_uses_build():
    v = kn.Variable(np.ones(2))
    opt = optimizers.SGD(learning_rate=1.0)
    with pytest.raises(ValueError, match="build"):
        opt.apply([np.ones(2)])
    opt.build([v])
    opt.apply([np.ones(2)])
    np.testing.assert_allclose(v.numpy(), [0.0, 0.0])


def test_apply_rejects_bad_variables():
    opt = optimizers.SGD()
    with pytest.raises(TypeError, match="int64"):
        opt.apply([np.ones(2)], [np.ones(2, dtype=np.int64)])
    with pytest.raises(ValueError, match="2 gradients for 1 weights"):
        opt.apply([np.ones(2), np.ones(2)], [kn.Variable(np.ones(2))])


def test_tape_and_adam_fit_a_linear_model():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3))
    y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.3
    w = kn.Variable(np.zeros((3, 1)), name="w")
    b = kn.Variable(np.zeros(1), name="b")
    opt = optimizers.Adam(learning_rate=0.1)
    losses = []
    for _ in range(200):
        with kn.GradientTape() as tape:
            loss = ops.mean(ops.square(ops.matmul(x, w) + b - y))
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
        losses.append(float(loss))
    assert losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose(w.numpy().ravel(), [1.5, -2.0, 0.5], atol=0.02)
