"""Learning-rate schedules: values computed by hand, validation, serialization."""

import json
import math

import pytest

from kernelnet.optimizers import schedules


def test_exponential_decay():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert s(0) == pytest.approx(0.1)
    assert s(5) == pytest.approx(0.1 * 0.5**0.5)  # 0.0707...
    assert s(20) == pytest.approx(0.025)  # 0.1 * 0.5^2


def test_exponential_decay_staircase():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert s(9) == pytest.approx(0.1)  # floor(9 / 10) = 0
    assert s(10) == pytest.approx(0.05)
    assert s(29) == pytest.approx(0.025)


def test_inverse_time_decay():
    s = schedules.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5)
    assert s(0) == pytest.approx(0.1)
    assert s(4) == pytest.approx(0.05)  # 0.1 / (1 + 0.5 * 4 / 2)
    staircase = schedules.InverseTimeDecay(0.1, 2, 0.5, staircase=True)
    assert staircase(3) == pytest.approx(0.1 / 1.5)  # floor(3 / 2) = 1


def test_piecewise_constant_decay_boundaries_are_inclusive():
    s = schedules.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    assert [s(0), s(100), s(101), s(200), s(201), s(10**6)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]


def test_cosine_decay():
    s = schedules.CosineDecay(1.0, decay_steps=10, alpha=0.1)
    assert s(0) == pytest.approx(1.0)
    assert s(5) == pytest.approx(0.9 * 0.5 + 0.1)  # cos(pi / 2) = 0 -> half way
    assert s(10) == pytest.approx(0.1)  # alpha * initial
    assert s(50) == pytest.approx(0.1)  # held after decay_steps
    expected = 2.0 * 0.5 * (1 + math.cos(math.pi / 4))
    assert schedules.CosineDecay(2.0, 4)(1) == pytest.approx(expected)


def test_step_decay():
    s = schedules.StepDecay(0.1, drop_rate=0.5, steps_per_drop=10)
    assert s(0) == pytest.approx(0.1)
    assert s(9) == pytest.approx(0.1)
    assert s(10) == pytest.approx(0.05)
    assert s(35) == pytest.approx(0.0125)  # 0.1 * 0.5^3


@pytest.mark.parametrize("schedule", [
    schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True),
    schedules.InverseTimeDecay(0.1, 10, 0.9),
    schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]),
    schedules.CosineDecay(0.1, 100, alpha=0.01),
    schedules.StepDecay(0.1, 0.5, 1000),
])
def test_serialize_round_trip(schedule):
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    again = schedules.deserialize(config)
    assert type(again) is type(schedule)
    assert again.get_config() == schedule.get_config()
    assert [again(t) for t in (0, 7, 15, 500)] == [schedule(t) for t in (0, 7, 15, 500)]


def test_invalid_arguments_and_unknown_names():
    with pytest.raises(ValueError, match="Received: decay_steps=0"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="Received: initial_learning_rate=-0.1"):
        schedules.CosineDecay(-0.1, 10)
    with pytest.raises(ValueError, match="one more value than boundaries"):
        schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01])
    with pytest.raises(ValueError, match="(?i)did you mean 'stepdecay'"):
        schedules.deserialize({"class_name": "StepDecy", "config": {}})
    with pytest.raises(TypeError, match="Could not interpret learning rate schedule"):
        schedules.get(0.1)
