"""kernelnet.callbacks driven by a fake model and fake logs (independent of kernelnet.models)."""

import csv
import math
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from kernelnet import callbacks
from kernelnet.callbacks import (
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


class FakeModel:
    """Just what callbacks use: stop_training, optimizer.learning_rate, weights, save."""

    def __init__(self, learning_rate=0.1):
        self.stop_training = False
        self.optimizer = SimpleNamespace(learning_rate=learning_rate, iterations=0)
        self._weights = [np.zeros(3), np.zeros((2, 2))]
        self.saved = []   # (kind, path, weights value) per save

    def get_weights(self):
        # NOTE: returns the live arrays (views), so callbacks must copy what they keep.
        return self._weights

    def set_weights(self, weights):
        for w, v in zip(self._weights, weights, strict=True):
            w[...] = v

    def save(self, filepath, overwrite=True):
        self._write("model", filepath)

    def save_weights(self, filepath, overwrite=True):
        self._write("weights", filepath)

    def _write(self, kind, filepath):
        with open(filepath, "w") as f:
            f.write(kind)
        self.saved.append((kind, str(filepath), float(self._weights[0][0])))


# Logged by the validation pass inside fit(); chosen so no timing figure can contain it.
INNER_VAL_LOSS = 7654.321


def run_fit(cbs, model, epoch_logs, steps=2, verbose=0, batch_logs=None, n_steps_known=True):
    """Drives callbacks like `fit()`: epoch e sets every weight to e + 1 during its batches.

    `epoch_logs[e]` are the end-of-epoch logs; `batch_logs(e, step)` the per-batch logs
    (defaults to the epoch's "loss" and "acc").
    """
    epochs = len(epoch_logs)
    cbs = callbacks.CallbackList(cbs, add_history=True, add_progbar=verbose != 0, model=model,
                                 verbose=verbose, epochs=epochs,
                                 steps=steps if n_steps_known else None)
    cbs.on_train_begin()
    logs = {}
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            model.set_weights([np.full_like(w, epoch + 1.0) for w in model.get_weights()])
            if batch_logs is None:
                step_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
            else:
                step_logs = batch_logs(epoch, step)
            cbs.on_train_batch_end(step, step_logs)
            if model.stop_training:
                break
        cbs.on_test_begin()
        cbs.on_test_batch_begin(0)
        cbs.on_test_batch_end(0, {"loss": INNER_VAL_LOSS})
        cbs.on_test_end({"loss": INNER_VAL_LOSS})
        cbs.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return model.history


def val_losses(*values):
    return [{"loss": 1.0, "val_loss": v} for v in values]


# ---------------------------------------------------------------- Callback, CallbackList, History


def test_history_records_epoch_logs_and_is_set_on_model():
    model = FakeModel()
    logs = [{"loss": np.float32(0.5), "acc": 0.7}, {"loss": np.float64(0.25), "acc": 0.8}]
    history = run_fit([], model, logs)
    assert isinstance(history, History)
    assert history.history == {"loss": [0.5, 0.25], "acc": [0.7, 0.8]}
    assert all(type(v) is float for v in history.history["loss"])   # NumPy scalars converted
    assert history.epoch == [0, 1]
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 2}
    assert history.model is model


def test_callback_list_orders_defaults_after_user_callbacks_and_reuses_given_ones():
    user = callbacks.Callback()
    cbs = CallbackList([user], add_history=True, add_progbar=True)
    assert cbs.callbacks[0] is user
    assert [type(cb) for cb in cbs.callbacks[1:]] == [History, ProgbarLogger]
    history, bar = History(), ProgbarLogger()
    cbs = CallbackList([bar, history], add_history=True, add_progbar=True)
    assert cbs.callbacks == [bar, history]
    assert len(CallbackList(None)) == 0


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match=r"Received: callbacks\[1\]=.*of type function"):
        CallbackList([callbacks.Callback(), lambda epoch, logs: None])


def test_callback_list_sets_model_and_params_on_every_callback():
    model, user = FakeModel(), callbacks.Callback()
    CallbackList([user], add_history=True, model=model, verbose=1, epochs=3, steps=10)
    assert user.model is model
    assert user.params == {"verbose": 1, "epochs": 3, "steps": 10}
    assert isinstance(model.history, History)


def test_keras2_on_batch_end_override_is_called_by_on_train_batch_end():
    seen = []

    class Keras2Style(callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((batch, logs["loss"]))

    run_fit([Keras2Style()], FakeModel(), [{"loss": 0.5}], steps=2)
    assert seen == [(0, 0.5), (1, 0.5)]


def test_lambda_callback_calls_given_functions_in_fit_order():
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_train_batch_end=lambda batch, logs: events.append(f"batch_end {batch}"),
        on_epoch_end=lambda epoch, l: events.append(f"epoch_end {epoch} {l['loss']}"),
        on_train_end=lambda logs: events.append("train_end"),
    )
    run_fit([cb], FakeModel(), [{"loss": 0.5}], steps=2)
    assert events == ["train_begin", "epoch_begin 0", "batch_end 0", "batch_end 1",
                      "epoch_end 0 0.5", "train_end"]


def test_lambda_callback_rejects_unknown_hook():
    with pytest.raises(ValueError, match="Unknown hook 'on_epoch_finish'"):
        LambdaCallback(on_epoch_finish=print)


# ---------------------------------------------------------------- EarlyStopping


def test_early_stopping_min_mode_stops_after_patience():
    stop = EarlyStopping(monitor="val_loss", patience=2)
    model = FakeModel()
    history = run_fit([stop], model, val_losses(1.0, 0.9, 0.95, 0.96, 0.5))
    # epoch 1 is the best; epochs 2 and 3 do not improve -> stop at epoch 3
    assert history.epoch == [0, 1, 2, 3]
    assert stop.stopped_epoch == 3 and stop.best == 0.9 and stop.best_epoch == 1
    assert model.stop_training


def test_early_stopping_auto_mode_maximizes_accuracy():
    stop = EarlyStopping(monitor="val_acc", patience=1)
    history = run_fit([stop], FakeModel(), [{"val_acc": a} for a in (0.5, 0.6, 0.55, 0.9)])
    assert history.epoch == [0, 1, 2]
    assert stop.best == 0.6


def test_early_stopping_explicit_max_mode_for_custom_metric():
    logs = [{"score": s} for s in (1.0, 2.0, 3.0, 2.5)]
    assert run_fit([EarlyStopping("score", mode="max")], FakeModel(), logs).epoch == [0, 1, 2, 3]
    assert run_fit([EarlyStopping("score", mode="min")], FakeModel(), logs).epoch == [0, 1]


def test_early_stopping_min_delta_requires_a_large_enough_improvement():
    stop = EarlyStopping(patience=1, min_delta=0.01)
    assert run_fit([stop], FakeModel(), val_losses(1.0, 0.995, 0.5)).epoch == [0, 1]
    stop = EarlyStopping(patience=1, min_delta=0.001)
    assert run_fit([stop], FakeModel(), val_losses(1.0, 0.995, 0.5)).epoch == [0, 1, 2]


def test_early_stopping_restore_best_weights(capsys):
    model = FakeModel()
    stop = EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    run_fit([stop], model, val_losses(1.0, 0.5, 0.7, 0.2))
    # epoch e sets the weights to e + 1; the best epoch is 1 -> weights 2.0
    assert all(np.all(w == 2.0) for w in model.get_weights())
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_early_stopping_without_restore_keeps_last_weights():
    model = FakeModel()
    run_fit([EarlyStopping(patience=1)], model, val_losses(1.0, 0.5, 0.7, 0.2))
    assert all(np.all(w == 3.0) for w in model.get_weights())


def test_early_stopping_baseline_counts_epochs_that_do_not_beat_it():
    logs = val_losses(0.9, 0.8, 0.85, 0.84)
    assert run_fit([EarlyStopping(patience=2)], FakeModel(), logs).epoch == [0, 1, 2, 3]
    stop = EarlyStopping(patience=2, baseline=0.5)
    assert run_fit([stop], FakeModel(), logs).epoch == [0, 1, 2]


def test_early_stopping_start_from_epoch_ignores_warm_up_epochs():
    stop = EarlyStopping(patience=0, start_from_epoch=2)
    assert run_fit([stop], FakeModel(), val_losses(1.0, 2.0, 3.0, 4.0)).epoch == [0, 1, 2, 3]
    assert stop.stopped_epoch == 3 and stop.best == 3.0


def test_early_stopping_warns_when_monitor_is_missing():
    model = FakeModel()
    with pytest.warns(UserWarning, match=r"`val_loss` which is not available.*'loss', 'acc'"):
        history = run_fit([EarlyStopping()], model, [{"loss": 1.0, "acc": 0.5}] * 3)
    assert history.epoch == [0, 1, 2]


def test_early_stopping_rejects_unknown_mode():
    with pytest.raises(ValueError, match="Received: mode='maximum'"):
        EarlyStopping(mode="maximum")


def test_early_stopping_is_reusable_across_fits():
    stop = EarlyStopping(patience=1)
    run_fit([stop], FakeModel(), val_losses(0.1, 0.2))
    assert run_fit([stop], FakeModel(), val_losses(1.0, 0.5)).epoch == [0, 1]


# ---------------------------------------------------------------- ModelCheckpoint


def test_model_checkpoint_formats_filename_and_creates_directories(tmp_path):
    model = FakeModel()
    pattern = tmp_path / "ckpt" / "deep" / "model-{epoch:02d}-{val_loss:.2f}.kn"
    run_fit([ModelCheckpoint(pattern)], model, val_losses(0.5, 0.4321))
    names = sorted(p.name for p in (tmp_path / "ckpt" / "deep").iterdir())
    assert names == ["model-01-0.50.kn", "model-02-0.43.kn"]
    assert [kind for kind, _, _ in model.saved] == ["model", "model"]


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    model = FakeModel()
    path = tmp_path / "best.kn"
    ckpt = ModelCheckpoint(str(path), save_best_only=True, verbose=1)
    run_fit([ckpt], model, val_losses(0.5, 0.6, 0.4))
    # saves at epochs 0 and 2 (weights 1.0 and 3.0)
    assert model.saved == [("model", str(path), 1.0), ("model", str(path), 3.0)]
    out = capsys.readouterr().out
    assert f"Epoch 1: val_loss improved from inf to 0.50000, saving model to {path}" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out
    assert f"Epoch 3: val_loss improved from 0.50000 to 0.40000, saving model to {path}" in out


def test_model_checkpoint_max_mode_weights_only_and_threshold(tmp_path):
    model = FakeModel()
    ckpt = ModelCheckpoint(tmp_path / "w.npz", monitor="val_acc", save_best_only=True,
                           save_weights_only=True, initial_value_threshold=0.65)
    run_fit([ckpt], model, [{"val_acc": a} for a in (0.6, 0.7, 0.68, 0.9)])
    assert [(kind, w) for kind, _, w in model.saved] == [("weights", 2.0), ("weights", 4.0)]


def test_model_checkpoint_warns_and_skips_when_monitor_missing(tmp_path):
    model = FakeModel()
    ckpt = ModelCheckpoint(tmp_path / "m.kn", save_best_only=True)
    with pytest.warns(UserWarning, match=r"`val_loss` which is not available.*'loss'"):
        run_fit([ckpt], model, [{"loss": 1.0}])
    assert model.saved == []


def test_model_checkpoint_integer_save_freq_counts_batches_across_epochs(tmp_path):
    model = FakeModel()
    ckpt = ModelCheckpoint(tmp_path / "m-{epoch}-{batch}.kn", save_freq=3)
    run_fit([ckpt], model, [{"loss": 1.0}] * 3, steps=2)   # 6 batches -> saves after 3 and 6
    assert [p.rsplit("/", 1)[-1] for _, p, _ in model.saved] == ["m-2-1.kn", "m-3-2.kn"]


def test_model_checkpoint_missing_format_field_is_explained(tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "m-{val_acc:.2f}.kn")
    with pytest.raises(KeyError, match="Available fields: epoch, loss, val_loss"):
        run_fit([ckpt], FakeModel(), val_losses(0.5))


@pytest.mark.parametrize("save_freq", ["batch", 0, -2, 1.5])
def test_model_checkpoint_rejects_bad_save_freq(save_freq):
    with pytest.raises(ValueError, match=re.escape(f"Received: save_freq={save_freq!r}")):
        ModelCheckpoint("m.kn", save_freq=save_freq)


# ---------------------------------------------------------------- ReduceLROnPlateau


def test_reduce_lr_on_plateau_reduces_after_patience_and_logs_learning_rate():
    model = FakeModel(learning_rate=0.1)
    cb = ReduceLROnPlateau(factor=0.5, patience=1)
    history = run_fit([cb], model, val_losses(1.0, 1.0, 1.0, 1.0, 1.0))
    # learning_rate logged is the one used during the epoch (before any reduction)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.0125])
    assert model.optimizer.learning_rate == pytest.approx(0.00625)


def test_reduce_lr_on_plateau_cooldown():
    model = FakeModel(learning_rate=0.1)
    cb = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2)
    history = run_fit([cb], model, val_losses(1.0, 1.0, 1.0, 1.0, 1.0))
    # reduce at epoch 1; epoch 2 is cooldown; epoch 3 reduces again; epoch 4 is cooldown
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.025)


def test_reduce_lr_on_plateau_respects_min_lr(capsys):
    model = FakeModel(learning_rate=0.1)
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.03, verbose=1)
    run_fit([cb], model, val_losses(1.0, 1.0, 1.0, 1.0, 1.0))
    assert model.optimizer.learning_rate == pytest.approx(0.03)
    out = capsys.readouterr().out
    assert out.count("ReduceLROnPlateau reducing learning rate") == 2
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05." in out


def test_reduce_lr_on_plateau_no_reduction_while_improving_in_max_mode():
    model = FakeModel(learning_rate=0.1)
    logs = [{"val_acc": a} for a in (0.5, 0.6, 0.7, 0.8)]
    run_fit([ReduceLROnPlateau(monitor="val_acc", patience=1)], model, logs)
    assert model.optimizer.learning_rate == 0.1


def test_reduce_lr_on_plateau_min_delta():
    model = FakeModel(learning_rate=0.1)
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.1)
    run_fit([cb], model, val_losses(1.0, 0.95, 0.8))   # 0.95 is not enough, 0.8 is
    assert model.optimizer.learning_rate == pytest.approx(0.05)


def test_reduce_lr_on_plateau_rejects_schedules_and_bad_factor():
    class ExponentialDecay:
        def __call__(self, step):
            return 0.1

    with pytest.raises(TypeError, match="learning_rate` is a ExponentialDecay, not a float"):
        run_fit([ReduceLROnPlateau()], FakeModel(learning_rate=ExponentialDecay()), [{}])
    with pytest.raises(ValueError, match="Received: factor=1.0"):
        ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_on_plateau_accepts_keras2_epsilon():
    assert ReduceLROnPlateau(epsilon=0.5).min_delta == 0.5


# ---------------------------------------------------------------- TerminateOnNaN


@pytest.mark.parametrize("bad", [math.nan, math.inf, np.float32("nan")])
def test_terminate_on_nan_stops_training(bad, capsys):
    model = FakeModel()
    history = run_fit([TerminateOnNaN()], model, [{"loss": 1.0}] * 3, steps=3,
                      batch_logs=lambda epoch, step: {"loss": bad if (epoch, step) == (1, 1)
                                                      else 0.5})
    assert model.stop_training
    assert history.epoch == [0, 1]
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_ignores_finite_losses(capsys):
    model = FakeModel()
    run_fit([TerminateOnNaN()], model, [{"loss": 1e30}] * 2)
    assert not model.stop_training
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------- CSVLogger


def read_csv(path, delimiter=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def test_csv_logger_writes_sorted_header_and_one_row_per_epoch(tmp_path):
    path = tmp_path / "logs" / "train.csv"
    logs = [{"loss": 0.5, "acc": 0.7, "val_loss": 0.6}, {"loss": 0.25, "acc": 0.8, "val_loss": 0.4}]
    run_fit([CSVLogger(path)], FakeModel(), logs)
    assert read_csv(path) == [["epoch", "acc", "loss", "val_loss"],
                              ["0", "0.7", "0.5", "0.6"], ["1", "0.8", "0.25", "0.4"]]


def test_csv_logger_flushes_each_epoch(tmp_path):
    path = tmp_path / "train.csv"
    rows_seen = []
    peek = LambdaCallback(on_epoch_end=lambda epoch, logs: rows_seen.append(len(read_csv(path))))
    run_fit([CSVLogger(path), peek], FakeModel(), [{"loss": 0.5}] * 2)
    assert rows_seen == [2, 3]


def test_csv_logger_append_continues_without_second_header(tmp_path):
    path = tmp_path / "train.csv"
    run_fit([CSVLogger(path, separator=";")], FakeModel(), [{"loss": 0.5, "acc": 0.1}])
    run_fit([CSVLogger(path, separator=";", append=True)], FakeModel(),
            [{"loss": 0.25, "acc": 0.2}, {"loss": 0.125, "acc": 0.3}])
    assert read_csv(path, ";") == [["epoch", "acc", "loss"], ["0", "0.1", "0.5"],
                                   ["0", "0.2", "0.25"], ["1", "0.3", "0.125"]]
    run_fit([CSVLogger(path, separator=";")], FakeModel(), [{"loss": 1.0, "acc": 0.0}])
    assert read_csv(path, ";") == [["epoch", "acc", "loss"], ["0", "0.0", "1.0"]]


def test_csv_logger_writes_na_for_missing_keys(tmp_path):
    path = tmp_path / "train.csv"
    run_fit([CSVLogger(path)], FakeModel(), [{"loss": 0.5, "val_loss": 0.6}, {"loss": 0.4}])
    assert read_csv(path)[2] == ["1", "0.4", "NA"]


def test_csv_logger_rejects_bad_separator():
    with pytest.raises(ValueError, match="Received: separator=', '"):
        CSVLogger("x.csv", separator=", ")


# ---------------------------------------------------------------- LearningRateScheduler


def test_learning_rate_scheduler_epoch_only_signature():
    model = FakeModel(learning_rate=1.0)
    seen = LambdaCallback(on_epoch_begin=lambda e, logs: lrs.append(model.optimizer.learning_rate))
    lrs = []
    history = run_fit([LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)), seen], model,
                      [{"loss": 1.0}] * 3)
    assert lrs == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_learning_rate_scheduler_epoch_and_lr_signature(capsys):
    model = FakeModel(learning_rate=0.1)

    def schedule(epoch, lr):
        return lr if epoch < 1 else lr * 0.5

    history = run_fit([LearningRateScheduler(schedule, verbose=1)], model, [{"loss": 1.0}] * 3)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    out = capsys.readouterr().out
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in out


def test_learning_rate_scheduler_accepts_numpy_float_and_rejects_non_numbers():
    model = FakeModel()
    run_fit([LearningRateScheduler(lambda epoch: np.float32(0.5))], model, [{}])
    assert model.optimizer.learning_rate == 0.5 and type(model.optimizer.learning_rate) is float
    with pytest.raises(ValueError, match="should be a float. Received: '0.1'"):
        run_fit([LearningRateScheduler(lambda epoch: "0.1")], FakeModel(), [{}])
    with pytest.raises(TypeError, match="must be a function"):
        LearningRateScheduler(0.1)


# ---------------------------------------------------------------- ProgbarLogger


EPOCH_LOGS = [{"loss": 0.3, "acc": 0.9, "val_loss": 0.4, "val_acc": 0.8},
              {"loss": 0.2, "acc": 0.95, "val_loss": 0.35, "val_acc": 0.85}]
TIME = r"\d+(s|ms|us)/step"


def test_progbar_logger_verbose_2_prints_one_keras_line_per_epoch(capsys):
    run_fit([], FakeModel(), EPOCH_LOGS, steps=3, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0] == "Epoch 1/2"
    assert re.fullmatch(rf"3/3 - \d+s - {TIME} - acc: 0\.9000 - loss: 0\.3000 - "
                        r"val_acc: 0\.8000 - val_loss: 0\.4000", lines[1]), lines[1]
    assert lines[2] == "Epoch 2/2"
    assert re.fullmatch(rf"3/3 - \d+s - {TIME} - acc: 0\.9500 - loss: 0\.2000 - "
                        r"val_acc: 0\.8500 - val_loss: 0\.3500", lines[3]), lines[3]


def test_progbar_logger_verbose_2_shows_learning_rate_last(capsys):
    run_fit([ReduceLROnPlateau()], FakeModel(learning_rate=0.01), EPOCH_LOGS[:1], verbose=2)
    line = capsys.readouterr().out.splitlines()[1]
    assert line.endswith("val_loss: 0.4000 - learning_rate: 0.0100"), line


def test_progbar_logger_verbose_1_shows_loss_in_bar(capsys):
    batch_logs = lambda epoch, step: {"loss": 0.5 - 0.1 * step, "acc": 0.6}   # noqa: E731
    run_fit([], FakeModel(), EPOCH_LOGS, steps=3, verbose=1, batch_logs=batch_logs)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "1/3" in out and "loss: 0.5000" in out   # per-batch running values
    final = [seg for seg in re.split(r"[\r\n]", out) if seg.startswith("3/3")][-1]
    assert re.search(rf"{TIME} - acc: 0\.9500 - loss: 0\.2000 - val_acc: 0\.8500 - "
                     r"val_loss: 0\.3500$", final.rstrip()), final
    assert "7654.3" not in out   # validation inside fit() is not shown


def test_progbar_logger_unknown_steps_learns_target_from_first_epoch(capsys):
    run_fit([], FakeModel(), EPOCH_LOGS, steps=4, verbose=2, n_steps_known=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("4/4 - ") and lines[3].startswith("4/4 - ")


def test_verbose_0_prints_nothing(capsys):
    run_fit([], FakeModel(), EPOCH_LOGS, verbose=0)
    cbs = CallbackList([ProgbarLogger()], verbose=0, epochs=1, steps=2)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_train_batch_end(0, {"loss": 1.0})
    cbs.on_epoch_end(0, {"loss": 1.0})
    cbs.on_train_end()
    assert capsys.readouterr().out == ""


def test_progbar_logger_evaluate_and_predict_show_their_own_bar(capsys):
    cbs = CallbackList(add_progbar=True, verbose=2, epochs=1, steps=2)
    cbs.on_test_begin()
    for step in range(2):
        cbs.on_test_batch_end(step, {"loss": 0.7, "acc": 0.4})
    cbs.on_test_end({"loss": 0.6, "acc": 0.5})
    cbs.on_predict_begin()
    for step in range(2):
        cbs.on_predict_batch_end(step, {"outputs": np.zeros((4, 2))})
    cbs.on_predict_end()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(rf"2/2 - \d+s - {TIME} - acc: 0\.5000 - loss: 0\.6000", lines[0])
    assert re.fullmatch(rf"2/2 - \d+s - {TIME}", lines[1])


def test_progbar_logger_rejects_bad_count_mode():
    with pytest.raises(ValueError, match="Received: count_mode='batches'"):
        ProgbarLogger(count_mode="batches")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ProgbarLogger(count_mode="samples").count_mode == "steps"
    assert "not supported" in str(caught[0].message)


def test_auto_mode_minimizes_per_output_losses_and_maximizes_their_accuracies():
    from kernelnet.callbacks.monitoring import resolve_mode

    assert resolve_mode("auto", "val_accuracy_head_loss", "EarlyStopping") == "min"
    assert resolve_mode("auto", "val_out_a_accuracy", "EarlyStopping") == "max"
    assert resolve_mode("auto", "out_b_loss", "EarlyStopping") == "min"
