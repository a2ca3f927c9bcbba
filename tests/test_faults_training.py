"""Faults during training: kills and signals during `kernelnet train`, NaN losses, stopped and
foreign worker processes. Each run is a tiny LeNet-5 on synthetic data (seconds)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kernelnet import backend, callbacks, cli, layers, utils
from kernelnet.models import Sequential, load_model, parallel, workers
from kernelnet.saving import read_training_state

TRAIN = ["train", "--arch", "lenet5", "--data", "synthetic", "--samples", "48",
         "--test-samples", "12", "--batch-size", "16", "--seed", "0", "--verbose", "0"]

# Runs `kernelnet train` in a fresh process that pauses after batch 1 of epoch 2 (index 1) and
# then creates the file `sys.argv[1]`, so that a signal sent once that file exists lands in the
# pause, in the middle of epoch 2. Ctrl-C is restored first: a shell starts background jobs
# with SIGINT ignored, Python then installs no KeyboardInterrupt handler, and the suite run as
# `make test &` saw the process sleep out its pause.
SLOW_TRAIN = """
import pathlib, signal, sys, time
from kernelnet import callbacks, cli

signal.signal(signal.SIGINT, signal.default_int_handler)
PAUSED = pathlib.Path(sys.argv.pop(1))

class Pause(callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == (1, 1):
            PAUSED.touch()
            time.sleep(120)

sys.exit(cli.main(sys.argv[1:], callbacks=[Pause()]))
"""


def _weights(path):
    return load_model(path).get_weights()


def _assert_same_run(a: Path, b: Path):
    for x, y in zip(_weights(a / "model.kn"), _weights(b / "model.kn"), strict=True):
        np.testing.assert_array_equal(x, y)
    histories = [json.loads((d / "history.json").read_text()) for d in (a, b)]
    assert histories[0] == histories[1]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    assert cli.main([*TRAIN, "--epochs", "4", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_during_train_then_resume_equals_an_uninterrupted_run(tmp_path, straight, signum,
                                                                     code):
    out, paused = tmp_path / "run", tmp_path / "paused"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_TRAIN, str(paused), *TRAIN, "--epochs",
                             "4", "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not paused.exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "no pause in epoch 2 after 120 s"
        time.sleep(0.02)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, (stdout, stderr)
    assert "Traceback" not in stderr and "Resume with: kernelnet train --resume" in stdout
    record = json.loads((out / "run.json").read_text())
    saved = read_training_state(out / "checkpoint.kn")["run"]
    assert record["epochs_done"] == saved["epochs_done"] == 1   # checkpoint and run.json agree
    assert saved["run_id"] == record["run_id"] and saved["history"] == record["history"]
    assert not (out / "model.kn").exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    utils.set_random_seed(123)  # a new process: the random stream is anywhere
    assert cli.main(["train", "--resume", str(out), "--verbose", "0"]) == 0
    _assert_same_run(straight, out)
    assert len((out / "history.csv").read_text().strip().splitlines()) == 5


class InterruptAt(callbacks.Callback):
    """Ctrl-C at batch `batch` of epoch `epoch`; keeps the weights each finished epoch had."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch, self.finished = (epoch, batch), None, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self.finished.append([w.copy() for w in self.model.get_weights()])

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_ctrl_c_mid_epoch_keeps_checkpoint_and_run_json_in_agreement(tmp_path):
    spy = InterruptAt(epoch=1, batch=1)
    assert cli.main([*TRAIN, "--epochs", "3", "--out", str(tmp_path)], callbacks=[spy]) == 130
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["epochs_done"] == 1 and len(record["history"]["loss"]) == 1
    assert read_training_state(tmp_path / "checkpoint.kn")["run"]["epochs_done"] == 1
    for at_epoch_end, saved in zip(spy.finished[0], _weights(tmp_path / "checkpoint.kn"),
                                   strict=True):  # not the weights of the cut epoch
        np.testing.assert_array_equal(at_epoch_end, saved)


class InterruptAfterEpoch(callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_resume_refuses_another_runs_model(tmp_path, capsys):
    assert cli.main([*TRAIN, "--epochs", "1", "--out", str(tmp_path / "old")]) == 0
    assert cli.main([*TRAIN, "--epochs", "3", "--out", str(tmp_path / "new")],
                    callbacks=[InterruptAfterEpoch()]) == 130
    new = tmp_path / "new"
    shutil.copy(tmp_path / "old" / "model.kn", new / "checkpoint.kn")   # a stale checkpoint
    before = {p.name: p.read_bytes() for p in new.iterdir()}
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(new), "--verbose", "0"]) == 2
    err = capsys.readouterr().err
    old_id = json.loads((tmp_path / "old" / "run.json").read_text())["run_id"]
    assert f"checkpoint.kn' belongs to another run (run id {old_id})" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in new.iterdir()} == before
    (new / "checkpoint.kn").unlink()                                   # and an older model.kn
    shutil.copy(tmp_path / "old" / "model.kn", new / "model.kn")
    assert cli.main(["train", "--resume", str(new), "--verbose", "0"]) == 2
    assert f"model.kn' belongs to another run (run id {old_id})" in capsys.readouterr().err


def test_resume_before_the_first_epoch_finished_starts_the_run_again(tmp_path, straight):
    assert cli.main([*TRAIN, "--epochs", "4", "--out", str(tmp_path)],
                    callbacks=[InterruptAt(epoch=0, batch=1)]) == 130
    assert not (tmp_path / "checkpoint.kn").exists()
    utils.set_random_seed(5)
    assert cli.main(["train", "--resume", str(tmp_path), "--verbose", "0"]) == 0
    _assert_same_run(straight, tmp_path)


class PoisonAt(callbacks.Callback):
    """Makes a weight NaN before batch 1 of epoch `epoch`."""

    def __init__(self, epoch):
        super().__init__()
        self.at, self.finished = epoch, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self.finished.append([w.copy() for w in self.model.get_weights()])

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == (self.at, 1):
            self.model.weights[0][...] = np.nan


def test_nan_loss_stops_keeps_last_good_checkpoint_and_exits_non_zero(tmp_path, capsys):
    poison = PoisonAt(epoch=1)
    assert cli.main([*TRAIN, "--epochs", "4", "--out", str(tmp_path)], callbacks=[poison]) == 1
    captured = capsys.readouterr()
    assert "Invalid loss, terminating training" in captured.out
    assert captured.err.startswith("kernelnet: error: training diverged: ")
    assert "epoch 2" in captured.err and "--lr" in captured.err and "checkpoint.kn" in captured.err

    def no_constants(name):
        raise AssertionError(f"{name} in run.json")

    record = json.loads((tmp_path / "run.json").read_text(), parse_constant=no_constants)
    json.loads((tmp_path / "history.json").read_text(), parse_constant=no_constants)
    assert record["epochs_done"] == 1 and len(record["history"]["loss"]) == 1
    assert "nan" not in (tmp_path / "history.csv").read_text().lower()
    assert not (tmp_path / "model.kn").exists()
    for good, saved in zip(poison.finished[0], _weights(tmp_path / "checkpoint.kn"), strict=True):
        np.testing.assert_array_equal(good, saved)
    # the hint works: resume from the last good epoch with a lower learning rate
    assert cli.main(["train", "--resume", str(tmp_path), "--lr", "0.0001", "--verbose", "0"]) == 0
    record = json.loads((tmp_path / "run.json").read_text(), parse_constant=no_constants)
    assert record["epochs_done"] == 4 and record["args"]["lr"] == 0.0001
    assert "stopped" not in record
    assert load_model(tmp_path / "model.kn").optimizer.learning_rate == pytest.approx(1e-4)


def _photo_folder(folder: Path, classes=(("dark", 40), ("light", 200))) -> Path:
    from kernelnet.preprocessing.image import save_img

    rng = np.random.default_rng(0)
    for name, level in classes:
        (folder / name).mkdir(parents=True)
        for i in range(10):
            save_img(folder / name / f"{i}.png",
                     np.clip(level + 30 * rng.standard_normal((28, 28, 1)), 0, 255), scale=False)
    return folder


def test_resume_with_data_dir_equals_an_uninterrupted_run(tmp_path):
    photos = _photo_folder(tmp_path / "photos")
    args = ["train", "--arch", "lenet5", "--data-dir", str(photos), "--image-size", "28",
            "--channels", "1", "--validation-split", "0.2", "--augment", "--batch-size", "4",
            "--seed", "0", "--verbose", "0", "--epochs", "4"]
    assert cli.main([*args, "--out", str(tmp_path / "straight")]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "cut")],
                    callbacks=[InterruptAt(epoch=2, batch=1)]) == 130
    utils.set_random_seed(9)
    assert cli.main(["train", "--resume", str(tmp_path / "cut"), "--verbose", "0"]) == 0
    _assert_same_run(tmp_path / "straight", tmp_path / "cut")


def test_evaluate_a_plain_class_folder(tmp_path, straight, capsys):
    photos = _photo_folder(tmp_path / "photos", (("a", 40), ("b", 120), ("c", 200)))
    model = straight / "model.kn"  # 3 classes, 28x28x1
    assert cli.main(["evaluate", str(model), "--data-dir", str(photos), "--verbose", "0"]) == 0
    assert "30 samples  loss: " in capsys.readouterr().out


# ---------------------------------------------------------------- forked training workers
@pytest.fixture
def forked_model():
    if not workers.available():
        pytest.fail("training workers need fork (Linux)")
    backend.set_num_threads(2)
    model = Sequential([layers.Conv2D(2, 3, input_shape=(6, 6, 1)), layers.Flatten(),
                        layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = np.zeros((32, 6, 6, 1)), np.zeros(32, int)
    assert parallel.shard_count(model, len(y), training=True) == 2
    model.train_on_batch(x, y)  # forks one worker
    yield model, x, y
    workers.close(model)
    backend.set_num_threads(None)


def test_close_in_a_forked_process_leaves_the_owners_workers_alone(forked_model):
    model, x, y = forked_model
    pool = list(workers._POOLS[model][2])
    child = os.fork()
    if child == 0:  # e.g. a worker in which the model is garbage-collected
        code = 1
        try:
            workers.close(model)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert all(w.process.is_alive() for w in pool)
    model.train_on_batch(x, y)
    assert workers._POOLS[model][2] == pool  # the same workers did the step


def test_a_stopped_worker_fails_the_step_with_a_clear_error(forked_model, monkeypatch):
    model, x, y = forked_model
    monkeypatch.setattr(workers, "STOPPED_TIMEOUT_S", 1.0)
    (worker,) = workers._POOLS[model][2]
    os.kill(worker.process.pid, signal.SIGSTOP)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"worker \(pid {worker.process.pid}\) has been "
                                           r"stopped \(SIGSTOP\?\) for 1 s.*"
                                           r"KERNELNET_TRAIN_PROCESSES=0"):
        model.train_on_batch(x, y)
    assert time.monotonic() - start < 30
    assert not worker.process.is_alive()
    model.train_on_batch(x, y)  # new workers are forked
