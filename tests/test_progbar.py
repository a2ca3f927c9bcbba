"""kernelnet.utils.progbar: Keras-style Progbar drawn with tqdm, value formatting."""

import re

import numpy as np
import pytest

from kernelnet.utils import progbar
from kernelnet.utils.progbar import Progbar, format_time_per_unit, format_value

TIME = r"\d+(s|ms|us)/step"


def test_verbose_2_prints_one_line_with_step_weighted_averages(capsys):
    bar = Progbar(4, verbose=2)
    bar.update(1, [("loss", 1.0), ("acc", 0.5)])
    bar.update(3, [("loss", 3.0), ("acc", 0.5)])   # covers 2 steps: weight 2
    assert capsys.readouterr().out == ""
    bar.update(4, [("loss", 2.0), ("acc", 0.5)])
    out = capsys.readouterr().out
    # loss = (1*1 + 3*2 + 2*1) / 4 = 2.25
    assert re.fullmatch(rf"4/4 - \d+s - {TIME} - loss: 2\.2500 - acc: 0\.5000\n", out), out
    assert bar.values == {"loss": 2.25, "acc": 0.5}


def test_add_advances_by_n_and_stateful_metrics_are_not_averaged(capsys):
    bar = Progbar(3, verbose=2, stateful_metrics=["lr"])
    for step in range(3):
        bar.add(1, values=[("loss", float(step)), ("lr", 0.1 * (step + 1))])
    assert bar.values == pytest.approx({"loss": 1.0, "lr": 0.3})
    assert re.fullmatch(rf"3/3 - \d+s - {TIME} - loss: 1\.0000 - lr: 0\.3000\n",
                        capsys.readouterr().out)


def test_repeated_finalize_does_not_count_the_last_step_twice():
    bar = Progbar(2, verbose=0)
    bar.update(1, [("loss", 1.0)])
    bar.update(2, [("loss", 3.0)])
    bar.update(2, [("loss", 100.0)], finalize=True)
    assert bar.values == {"loss": 2.0}


def test_verbose_2_pads_the_count_like_keras(capsys):
    bar = Progbar(120, verbose=2)
    bar.update(7, finalize=True)
    assert capsys.readouterr().out.startswith("  7/120 - ")


def test_verbose_1_draws_live_bar_with_values(capsys):
    bar = Progbar(3, verbose=1)
    bar.add(1, [("loss", 0.5)])
    bar.add(2, [("loss", 0.2)])
    out = capsys.readouterr().out
    assert out.startswith("\r1/3 ")
    assert re.search(rf"1/3 .*{TIME} - loss: 0\.5000", out)
    final = out.rstrip("\n").rsplit("\r", 1)[-1]
    assert final.startswith("3/3 ") and final.endswith("- loss: 0.3000")   # (0.5 + 2*0.2) / 3
    assert out.endswith("\n")   # the finished bar stays on screen


def test_verbose_1_unknown_target_is_fixed_at_finalize(capsys):
    bar = Progbar(None, verbose=1)
    bar.add(1, [("loss", 1.0)])
    bar.add(1, [("loss", 1.0)])
    bar.update(2, [("loss", 1.0)], finalize=True)
    out = capsys.readouterr().out
    assert "1/?" in out
    assert out.rstrip("\n").rsplit("\r", 1)[-1].startswith("2/2 ")


def test_verbose_0_prints_nothing(capsys):
    bar = Progbar(2, verbose=0)
    bar.add(1, [("loss", 1.0)])
    bar.add(1, [("loss", 1.0)])
    assert capsys.readouterr().out == ""


def test_non_numeric_values_are_shown_as_given(capsys):
    bar = Progbar(1, verbose=2)
    bar.update(1, [("phase", "warmup"), ("loss", np.float32(0.25))])
    assert capsys.readouterr().out.endswith("- phase: warmup - loss: 0.2500\n")


def test_print_msg_goes_to_current_stdout(capsys):
    progbar.print_msg("Epoch 3: early stopping")
    assert capsys.readouterr().out == "Epoch 3: early stopping\n"


@pytest.mark.parametrize("value,text", [
    (0.31234, "0.3123"), (12.0, "12.0000"), (1e-4, "1.0000e-04"), (0.001, "0.0010"),
    (0, "0.0000e+00"),
    (-0.5, "-0.5000"), (np.float32(0.25), "0.2500"), (np.array([0.5, 1.5]), "1.0000"),
    ("text", "text"), (True, "True"),
])
def test_format_value_like_keras(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize("seconds,text", [
    (2.4, "2s/step"), (0.0, "0s/step"), (0.025, "25ms/step"), (0.00031, "310us/step"),
])
def test_format_time_per_unit(seconds, text):
    assert format_time_per_unit(seconds, "step") == text


def test_invalid_verbose_is_rejected():
    with pytest.raises(ValueError, match="Received: verbose=3"):
        Progbar(10, verbose=3)
