"""Optimizers: hand-computed golden values, in-place contract, dtype, legacy spellings, state."""

import json

import numpy as np
import pytest

from kernelnet import optimizers
from kernelnet.optimizers import schedules

W0 = np.array([1.0, 2.0, 3.0, 4.0])
G1 = np.array([1.0, -1.0, 2.0, -2.0])
G2 = np.array([0.01, 1.0, -2.0, 1.0])


def run(opt, grads, w0=W0):
    """Applies each gradient in turn to a copy of w0; returns the weights after each step."""
    w = w0.copy()
    out = []
    for g in grads:
        opt.apply([g], [w])
        out.append(w.copy())
    return out


# -- golden values ------------------------------------------------------------------------------
def test_sgd_plain_two_steps():
    w1, w2 = run(optimizers.SGD(0.1), [G1, G2])
    # w1 = w0 - 0.1 * g1 = [0.9, 2.1, 2.8, 4.2]
    np.testing.assert_allclose(w1, [0.9, 2.1, 2.8, 4.2], rtol=1e-14)
    # w2 = w1 - 0.1 * g2 = [0.899, 2.0, 3.0, 4.1]
    np.testing.assert_allclose(w2, [0.899, 2.0, 3.0, 4.1], rtol=1e-14)


def test_sgd_momentum_two_steps():
    w1, w2 = run(optimizers.SGD(0.1, momentum=0.9), [G1, G2])
    # m1 = -0.1 g1 = [-0.1, 0.1, -0.2, 0.2]; w1 = w0 + m1
    np.testing.assert_allclose(w1, [0.9, 2.1, 2.8, 4.2], rtol=1e-14)
    # m2 = 0.9 m1 - 0.1 g2 = [-0.09 - 0.001, 0.09 - 0.1, -0.18 + 0.2, 0.18 - 0.1]
    #    = [-0.091, -0.01, 0.02, 0.08]; w2 = w1 + m2
    np.testing.assert_allclose(w2, [0.809, 2.09, 2.82, 4.28], rtol=1e-14)


def test_sgd_nesterov_two_steps():
    w1, w2 = run(optimizers.SGD(0.1, momentum=0.9, nesterov=True), [G1, G2])
    # m1 = -0.1 g1; w1 = w0 + 0.9 m1 - 0.1 g1 = w0 - 0.19 g1
    np.testing.assert_allclose(w1, [0.81, 2.19, 2.62, 4.38], rtol=1e-14)
    # m2 = [-0.091, -0.01, 0.02, 0.08]; w2 = w1 + 0.9 m2 - 0.1 g2
    #    = w1 + [-0.0819 - 0.001, -0.009 - 0.1, 0.018 + 0.2, 0.072 - 0.1]
    np.testing.assert_allclose(w2, [0.7271, 2.081, 2.838, 4.352], rtol=1e-14)


def test_adam_two_steps():
    w1, w2 = run(optimizers.Adam(0.1, epsilon=0.0), [G1, G2])
    # m1 = 0.1 g1, v1 = 0.001 g1^2, alpha1 = 0.1 * sqrt(0.001) / 0.1 -> step = 0.1 * sign(g1)
    np.testing.assert_allclose(w1, [0.9, 2.1, 2.9, 4.1], rtol=1e-14)
    # m2 = 0.9 m1 + 0.1 g2 = [0.09 + 0.001, -0.09 + 0.1, 0.18 - 0.2, -0.18 + 0.1]
    # v2 = 0.999 v1 + 0.001 g2^2 = [0.000999 + 1e-7, 0.000999 + 0.001, 0.003996 + 0.004, ...]
    # alpha2 = 0.1 * sqrt(1 - 0.999^2) / (1 - 0.9^2) = 0.1 * sqrt(0.001999) / 0.19
    m2 = np.array([0.091, 0.01, -0.02, -0.08])
    v2 = np.array([0.0009991, 0.001999, 0.007996, 0.004996])
    expected = w1 - 0.1 * np.sqrt(0.001999) / 0.19 * m2 / np.sqrt(v2)
    np.testing.assert_allclose(w2, expected, rtol=1e-12)


def test_adam_amsgrad_uses_running_max_of_v():
    w1, w2 = run(optimizers.Adam(0.1, epsilon=0.0, amsgrad=True), [G1, G2])
    np.testing.assert_allclose(w1, [0.9, 2.1, 2.9, 4.1], rtol=1e-14)
    # v2[0] = 0.0009991 < v1[0] = 0.001, so v_hat[0] = 0.001; the others grew.
    m2 = np.array([0.091, 0.01, -0.02, -0.08])
    v_hat = np.array([0.001, 0.001999, 0.007996, 0.004996])
    expected = w1 - 0.1 * np.sqrt(0.001999) / 0.19 * m2 / np.sqrt(v_hat)
    np.testing.assert_allclose(w2, expected, rtol=1e-12)


def test_adamw_decays_weights_before_the_adam_step():
    (w1,) = run(optimizers.AdamW(0.1, weight_decay=0.1, epsilon=0.0), [G1])
    # w = w0 - w0 * 0.1 * 0.1 = 0.99 w0; then the Adam step 0.1 * sign(g1)
    np.testing.assert_allclose(w1, 0.99 * W0 - 0.1 * np.sign(G1), rtol=1e-14)


def test_rmsprop_two_steps():
    w1, w2 = run(optimizers.RMSprop(0.1, epsilon=0.0), [G1, G2])
    # v1 = 0.1 g1^2 -> inc1 = 0.1 g1 / sqrt(0.1 g1^2) = sqrt(0.1) * sign(g1)
    np.testing.assert_allclose(w1, W0 - np.sqrt(0.1) * np.sign(G1), rtol=1e-14)
    # v2 = 0.9 v1 + 0.1 g2^2 = [0.09 + 1e-5, 0.09 + 0.1, 0.36 + 0.4, 0.36 + 0.1]
    v2 = np.array([0.09001, 0.19, 0.76, 0.46])
    np.testing.assert_allclose(w2, w1 - 0.1 * G2 / np.sqrt(v2), rtol=1e-12)


def test_rmsprop_centered_two_steps():
    w1, w2 = run(optimizers.RMSprop(0.1, epsilon=0.0, centered=True), [G1, G2])
    # a1 = 0.1 g1; denom1 = v1 - a1^2 = [0.1 - 0.01, 0.09, 0.4 - 0.04, 0.36]
    # inc1 = 0.1 g1 / [0.3, 0.3, 0.6, 0.6] = [1/3, -1/3, 1/3, -1/3]
    np.testing.assert_allclose(w1, W0 - np.array([1, -1, 1, -1]) / 3, rtol=1e-14)
    # a2 = 0.9 a1 + 0.1 g2 = [0.091, 0.01, -0.02, -0.08]
    # denom2 = v2 - a2^2 = [0.09001 - 0.008281, 0.19 - 0.0001, 0.76 - 0.0004, 0.46 - 0.0064]
    denom2 = np.array([0.081729, 0.1899, 0.7596, 0.4536])
    np.testing.assert_allclose(w2, w1 - 0.1 * G2 / np.sqrt(denom2), rtol=1e-12)


def test_rmsprop_momentum_two_steps():
    w1, w2 = run(optimizers.RMSprop(0.1, momentum=0.5, epsilon=0.0), [G1, G2])
    # mom1 = inc1 = sqrt(0.1) sign(g1); w1 = w0 - mom1
    mom1 = np.sqrt(0.1) * np.sign(G1)
    np.testing.assert_allclose(w1, W0 - mom1, rtol=1e-14)
    # mom2 = 0.5 mom1 + 0.1 g2 / sqrt(v2); w2 = w1 - mom2
    v2 = np.array([0.09001, 0.19, 0.76, 0.46])
    np.testing.assert_allclose(w2, w1 - (0.5 * mom1 + 0.1 * G2 / np.sqrt(v2)), rtol=1e-12)


def test_adagrad_two_steps():
    w1, w2 = run(optimizers.Adagrad(0.1, initial_accumulator_value=0.1, epsilon=0.0), [G1, G2])
    # acc1 = 0.1 + g1^2 = [1.1, 1.1, 4.1, 4.1]; w1 = w0 - 0.1 g1 / sqrt(acc1)
    np.testing.assert_allclose(w1, W0 - 0.1 * G1 / np.sqrt([1.1, 1.1, 4.1, 4.1]), rtol=1e-14)
    # acc2 = acc1 + g2^2 = [1.1001, 2.1, 8.1, 5.1]
    np.testing.assert_allclose(w2, w1 - 0.1 * G2 / np.sqrt([1.1001, 2.1, 8.1, 5.1]), rtol=1e-12)


def test_adadelta_two_steps():
    w1, w2 = run(optimizers.Adadelta(1.0, rho=0.95, epsilon=0.01), [G1, G2])
    # acc_g1 = 0.05 g1^2 = [0.05, 0.05, 0.2, 0.2]
    # delta1 = -sqrt(0 + 0.01) g1 / sqrt(acc_g1 + 0.01) = -0.1 g1 / sqrt([0.06, 0.06, 0.21, 0.21])
    delta1 = -0.1 * G1 / np.sqrt([0.06, 0.06, 0.21, 0.21])
    np.testing.assert_allclose(w1, W0 + delta1, rtol=1e-14)
    # acc_delta1 = 0.05 delta1^2; acc_g2 = 0.95 acc_g1 + 0.05 g2^2 = [0.047505, 0.0975, 0.39, 0.24]
    acc_delta1 = 0.05 * delta1**2
    delta2 = -np.sqrt(acc_delta1 + 0.01) * G2 / np.sqrt(np.array([0.047505, 0.0975, 0.39, 0.24])
                                                        + 0.01)
    np.testing.assert_allclose(w2, w1 + delta2, rtol=1e-12)


# -- shared behaviour ---------------------------------------------------------------------------
ALL = [
    optimizers.SGD(0.1), optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    optimizers.Adam(0.01), optimizers.Adam(0.01, amsgrad=True), optimizers.AdamW(0.01),
    optimizers.RMSprop(0.01), optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    optimizers.Adagrad(0.1), optimizers.Adadelta(1.0),
]
IDS = ["sgd", "nesterov", "adam", "amsgrad", "adamw", "rmsprop", "rmsprop_c", "adagrad", "adadelta"]


def fresh(opt):
    return type(opt).from_config(opt.get_config())


@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_update_is_in_place_and_counts_iterations(opt):
    opt = fresh(opt)
    w = W0.copy()
    holder, view = [w], w[:2]
    before = id(w)
    opt.apply([G1], [w])
    opt.apply([G2], [w])
    assert id(holder[0]) == before and holder[0] is w
    assert not np.array_equal(view, W0[:2])  # a second holder (a view) sees the update
    assert opt.iterations == 2


@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_float32_weights_stay_float32(opt):
    opt = fresh(opt)
    w = W0.astype(np.float32)
    opt.apply([G1], [w])  # a float64 gradient must not upcast the weight
    opt.apply([G2.astype(np.float32)], [w])
    assert w.dtype == np.float32
    assert all(s.dtype == np.float32 for s in opt._slots[id(w)].values())


@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_apply_does_not_modify_gradients(opt):
    opt = fresh(opt)
    g = G1.copy()
    g.setflags(write=False)
    opt.apply([g], [W0.copy()])
    np.testing.assert_array_equal(g, G1)


def test_apply_gradients_keras_spelling_matches_apply():
    a, b = W0.copy(), W0.copy()
    optimizers.Adam(0.1).apply([G1], [a])
    optimizers.Adam(0.1).apply_gradients(zip([G1], [b]))
    np.testing.assert_array_equal(a, b)


def test_apply_rejects_mismatched_shapes_and_lengths():
    with pytest.raises(ValueError, match="one gradient per weight"):
        optimizers.SGD().apply([G1, G1], [W0.copy()])
    with pytest.raises(ValueError, match=r"gradient shape \(3,\) does not match weight shape"):
        optimizers.SGD().apply([np.ones(3)], [W0.copy()])


@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_minimizes_a_quadratic(opt):
    opt = fresh(opt)
    target = np.array([0.5, -1.0, 2.0, 0.0])
    w = np.zeros(4)
    steps = 1500 if isinstance(opt, optimizers.Adadelta) else 300  # Adadelta starts slowly
    for _ in range(steps):
        opt.apply([2 * (w - target)], [w])  # gradient of sum((w - target)^2)
    assert np.sum((w - target) ** 2) < 0.1 * np.sum(target**2)


def test_adam_and_sgd_converge_on_a_quadratic():
    for opt, steps in ((optimizers.Adam(0.05), 500), (optimizers.SGD(0.1), 100)):
        target = np.array([0.5, -1.0, 2.0, 0.0])
        w = np.zeros(4)
        for _ in range(steps):
            opt.apply([2 * (w - target)], [w])
        np.testing.assert_allclose(w, target, atol=1e-3)


# -- learning rate, legacy spellings ------------------------------------------------------------
def test_lr_alias_and_legacy_decay():
    opt = optimizers.SGD(lr=0.1, decay=0.5)
    assert opt.learning_rate == 0.1 and opt.lr == 0.1
    w1, w2 = run(opt, [G1, G2])
    # step 1 at iterations=0: lr = 0.1; step 2 at iterations=1: lr = 0.1 / (1 + 0.5 * 1)
    np.testing.assert_allclose(w2, W0 - 0.1 * G1 - (0.1 / 1.5) * G2, rtol=1e-14)
    assert opt.current_learning_rate == pytest.approx(0.1 / 2.0)


def test_lowercase_keras2_factories():
    opt = optimizers.rmsprop(lr=0.0001, decay=1e-6)
    assert isinstance(opt, optimizers.RMSprop) and opt.learning_rate == 0.0001
    assert optimizers.sgd is optimizers.SGD and optimizers.adam is optimizers.Adam
    assert optimizers.adagrad is optimizers.Adagrad and optimizers.adadelta is optimizers.Adadelta


def test_lr_and_learning_rate_together_is_an_error():
    with pytest.raises(ValueError, match="both `lr` and `learning_rate`"):
        optimizers.Adam(learning_rate=0.01, lr=0.1)


def test_learning_rate_is_settable_and_lr_alias_sets_it():
    opt = optimizers.Adam()
    opt.learning_rate = 0.05  # what ReduceLROnPlateau does
    assert opt.current_learning_rate == 0.05
    opt.lr = np.float32(0.02)
    assert opt.learning_rate == pytest.approx(0.02) and isinstance(opt.learning_rate, float)
    with pytest.raises(ValueError, match="Received: learning_rate=-1"):
        opt.learning_rate = -1


def test_schedule_is_evaluated_at_iterations_and_not_settable():
    opt = optimizers.SGD(schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5))
    w1, w2 = run(opt, [G1, G1])
    # lr = 0.1 at step 0, 0.05 at step 1
    np.testing.assert_allclose(w2, W0 - 0.15 * G1, rtol=1e-14)
    assert opt.current_learning_rate == pytest.approx(0.025)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1


def test_keras3_default_learning_rates():
    assert optimizers.SGD().learning_rate == 0.01
    assert optimizers.Adam().learning_rate == 0.001
    assert optimizers.RMSprop().learning_rate == 0.001
    assert optimizers.Adagrad().learning_rate == 0.001
    assert optimizers.Adadelta().learning_rate == 0.001  # Keras 2 tutorials: pass 1.0


@pytest.mark.parametrize("kwargs,match", [
    ({"momentum": 1.5}, "Received: momentum=1.5"),
    ({"clipnorm": 1.0, "clipvalue": 0.5}, "Only one of `clipnorm`, `clipvalue`"),
    ({"clipnorm": 0}, "Received: clipnorm=0"),
    ({"decay": -1}, "Received: decay=-1"),
    ({"learning_rate": "fast"}, "Received: learning_rate='fast'"),
    ({"beta": 0.9}, r"not recognized by SGD: \['beta'\]"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        optimizers.SGD(**kwargs)


# -- clipping -----------------------------------------------------------------------------------
def test_clipvalue_clips_elementwise():
    (w1,) = run(optimizers.SGD(1.0, clipvalue=0.5), [np.array([1.0, -1.0, 0.2, -2.0])])
    np.testing.assert_allclose(w1, W0 - [0.5, -0.5, 0.2, -0.5], rtol=1e-14)


def test_clipnorm_clips_each_tensor():
    opt = optimizers.SGD(1.0, clipnorm=1.0)
    a, b = np.zeros(4), np.zeros(4)
    opt.apply([np.array([3.0, 4.0, 0, 0]), np.array([0.3, 0.4, 0, 0])], [a, b])
    np.testing.assert_allclose(a, [-0.6, -0.8, 0, 0], rtol=1e-14)  # norm 5 -> 1
    np.testing.assert_allclose(b, [-0.3, -0.4, 0, 0], rtol=1e-14)  # norm 0.5 untouched


def test_global_clipnorm_scales_all_tensors_together():
    opt = optimizers.SGD(1.0, global_clipnorm=5.0)
    a, b = np.zeros(4), np.zeros(4)
    ga, gb = np.array([6.0, 0, 0, 0]), np.array([0, 8.0, 0, 0])
    opt.apply([ga, gb], [a, b])
    # global norm = sqrt(36 + 64) = 10 -> every gradient scaled by 5 / 10
    np.testing.assert_allclose(a + b, [-3.0, -4.0, 0, 0], rtol=1e-14)
    assert ga[0] == 6.0 and gb[1] == 8.0  # the layers' gradient arrays are untouched


# -- registry and serialization -----------------------------------------------------------------
@pytest.mark.parametrize("name,cls", [
    ("sgd", optimizers.SGD), ("Adam", optimizers.Adam), ("adam", optimizers.Adam),
    ("RMSprop", optimizers.RMSprop), ("rmsprop", optimizers.RMSprop),
    ("adagrad", optimizers.Adagrad), ("ADADELTA", optimizers.Adadelta),
    ("adamw", optimizers.AdamW),
])
def test_get_by_name_gives_fresh_instances(name, cls):
    a, b = optimizers.get(name), optimizers.get(name)
    assert type(a) is cls and a is not b


def test_get_instance_returns_it_and_unknown_names_suggest():
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamm'. Expected one of .*"
                                         r"Did you mean 'adam'\?"):
        optimizers.get("adamm")
    with pytest.raises(TypeError, match="Could not interpret optimizer"):
        optimizers.get(3)


@pytest.mark.parametrize("opt", ALL + [
    optimizers.SGD(schedules.CosineDecay(0.1, 100, alpha=0.1), clipnorm=1.0, decay=1e-4),
], ids=IDS + ["schedule"])
def test_serialize_round_trip_through_json(opt):
    config = json.loads(json.dumps(optimizers.serialize(opt)))
    again = optimizers.deserialize(config)
    assert type(again) is type(opt)
    assert again.get_config() == opt.get_config()
    assert optimizers.get(config).get_config() == opt.get_config()


# -- checkpoint state ---------------------------------------------------------------------------
@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_state_resume_is_bitwise_identical(opt, rng):
    grads = [[rng.standard_normal(4), rng.standard_normal((2, 3))] for _ in range(4)]
    names = ["dense/kernel", "dense/bias"]
    start = [W0.copy(), rng.standard_normal((2, 3))]

    straight, reference = fresh(opt), [w.copy() for w in start]
    for g in grads:
        straight.apply(g, reference)

    first, weights = fresh(opt), [w.copy() for w in start]
    for g in grads[:2]:
        first.apply(g, weights)
    state = first.get_state(weights, names)
    assert state["iterations"] == 2 and all(k == "iterations" or "/" in k for k in state)
    resumed, loaded = fresh(opt), [w.copy() for w in weights]  # as if read from a file
    resumed.set_state(loaded, names, state)
    for g in grads[2:]:
        resumed.apply(g, loaded)
    for a, b in zip(loaded, reference):
        assert np.array_equal(a, b)


def test_state_keys_and_mismatch_errors():
    opt = optimizers.Adam()
    w = W0.copy()
    opt.apply([G1], [w])
    state = opt.get_state([w], ["conv/kernel"])
    assert sorted(state) == ["conv/kernel/m", "conv/kernel/v", "iterations"]
    with pytest.raises(ValueError, match="match no weight slot"):
        optimizers.Adam().set_state([W0.copy()], ["other/kernel"], state)
    with pytest.raises(ValueError, match="expected 'conv/kernel/m' with shape"):
        optimizers.Adam().set_state([np.zeros(3)], ["conv/kernel"], state)


def test_keras2_signatures_with_epsilon_none():
    # verbatim from Keras 2.2 docs/tutorials
    adam = optimizers.Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0,
                           amsgrad=False)
    assert adam.epsilon == 1e-7 and adam.learning_rate == 0.001
    assert optimizers.RMSprop(lr=0.001, rho=0.9, epsilon=None, decay=0.0).epsilon == 1e-7
    assert optimizers.Adagrad(lr=0.01, epsilon=None, decay=0.0).learning_rate == 0.01
    assert optimizers.Adadelta(lr=1.0, rho=0.95, epsilon=None, decay=0.0).learning_rate == 1.0
    sgd = optimizers.SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)
    assert sgd.nesterov and sgd.decay == 1e-6
