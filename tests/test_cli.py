"""The kernelnet command, run in-process on tiny synthetic data."""

import json

import numpy as np
import pytest

from kernelnet import callbacks, cli
from kernelnet.cli import _data

pytest.importorskip("matplotlib")


def train(tmp_path, *extra, out="run", callbacks=None):
    return cli.main(["train", "--arch", "lenet5", "--data", "synthetic", "--samples", "48",
                     "--test-samples", "24", "--epochs", "1", "--batch-size", "16", "--seed", "0",
                     "--verbose", "0", "--out", str(tmp_path / out), *extra], callbacks=callbacks)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    assert train(tmp, "--epochs", "2") == 0
    return tmp / "run"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from kernelnet.preprocessing.image import save_img

    folder = tmp_path_factory.mktemp("images")
    x, _ = _data.synthetic(3, (28, 28), 1)
    for i in range(3):
        save_img(folder / f"img{i}.png", x[i] * 255, scale=False)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_train_writes_model_history_and_pictures(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"model.kn", "history.csv", "history.json", "run.json", "history.png",
            "confusion_matrix.png", "predictions.png"} <= names
    history = json.loads((trained / "history.json").read_text())
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    assert len((trained / "history.csv").read_text().strip().splitlines()) == 3
    run = json.loads((trained / "run.json").read_text())
    assert run["epochs_done"] == 2 and run["class_names"] == ["top", "middle", "bottom"]
    assert run["test"]["accuracy"] > 0.9                  # the bands are easy to tell apart


def test_evaluate_prints_metrics(trained, capsys):
    assert cli.main(["evaluate", str(trained / "model.kn"), "--data", "synthetic",
                     "--test-samples", "24", "--verbose", "0"]) == 0
    assert capsys.readouterr().out.startswith("24 samples  loss: ")


def test_predict_table_is_aligned_and_json_has_top_k(trained, images, capsys):
    model = str(trained / "model.kn")
    assert cli.main(["predict", model, str(images), "--verbose", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3                                  # notes.txt skipped
    assert len({line.index("  ") for line in lines}) == 1   # names padded to one column
    assert lines[1].split()[1] == "middle"                  # img1 is class 1 (middle band)
    assert cli.main(["predict", model, str(images / "img2.png"), "--json", "--top-k", "2"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["file"].endswith("img2.png") and len(result["predictions"]) == 2
    assert result["predictions"][0]["class"] == "bottom"
    assert result["predictions"][0]["probability"] >= result["predictions"][1]["probability"]


def test_summary_of_arch_and_of_file(trained, capsys):
    assert cli.main(["summary", "lenet"]) == 0
    assert "61,706" in capsys.readouterr().out
    assert cli.main(["summary", str(trained / "model.kn")]) == 0
    assert "c1 (Conv2D)" in capsys.readouterr().out
    assert cli.main(["summary", "small_vgg", "--input-shape", "16", "16", "1",
                     "--classes", "2"]) == 0


def test_inspect_writes_kernels_feature_maps_and_grad_cam(trained, images, tmp_path):
    out = tmp_path / "inspect"
    assert cli.main(["inspect", str(trained / "model.kn"), "--image", str(images / "img0.png"),
                     "--out", str(out), "--verbose", "0"]) == 0
    assert {p.name for p in out.iterdir()} == {"kernels_c1.png", "kernels_c3.png",
                                               "feature_maps_c1.png", "feature_maps_c3.png",
                                               "grad_cam.png"}


class Interrupt(callbacks.Callback):
    """Presses Ctrl-C in the middle of an epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.params.get("epochs") and self._epoch == self.epoch and batch == 1:
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


def test_ctrl_c_saves_checkpoint_and_resume_continues(tmp_path, capsys):
    code = cli.main(["train", "--arch", "lenet5", "--data", "synthetic", "--samples", "48",
                     "--epochs", "3", "--batch-size", "16", "--verbose", "0", "--seed", "0",
                     "--out", str(tmp_path / "run")], callbacks=[Interrupt(epoch=1)])
    assert code == 130
    assert "kernelnet train --resume" in capsys.readouterr().out
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["epochs_done"] == 1 and len(run["history"]["loss"]) == 1
    assert (tmp_path / "run" / "checkpoint.kn").is_file()
    assert cli.main(["train", "--resume", str(tmp_path / "run"), "--verbose", "0"]) == 0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 3                      # epoch 1 (done) + epochs 2, 3
    assert not (tmp_path / "run" / "checkpoint.kn").exists()
    assert len((tmp_path / "run" / "history.csv").read_text().strip().splitlines()) == 4


class InterruptAfterEpoch(callbacks.Callback):
    """Presses Ctrl-C right after epoch `epoch` ends (its history is recorded)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_then_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path, float64):
    """The resumed run restores the shuffling stream too, so its weights match exactly."""
    from kernelnet import utils
    from kernelnet.models import load_model

    assert train(tmp_path, "--epochs", "3", out="straight") == 0
    assert train(tmp_path, "--epochs", "3", out="cut", callbacks=[InterruptAfterEpoch(0)]) == 130
    utils.set_random_seed(123)                            # a new process: the stream is anywhere
    assert cli.main(["train", "--resume", str(tmp_path / "cut"), "--verbose", "0"]) == 0
    straight = load_model(tmp_path / "straight" / "model.kn")
    resumed = load_model(tmp_path / "cut" / "model.kn")
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 9
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    history = [json.loads((tmp_path / run / "history.json").read_text())["loss"]
               for run in ("straight", "cut")]
    assert history[0] == history[1]


def test_resume_restores_optimizer_state(tmp_path):
    from kernelnet.models import load_model

    assert train(tmp_path) == 0
    model = load_model(tmp_path / "run" / "model.kn")
    assert model.optimizer.iterations > 0


def test_train_on_image_folder_with_augmentation(tmp_path):
    from kernelnet.preprocessing.image import save_img

    rng = np.random.default_rng(0)
    for name, level in (("cats", 40), ("dogs", 220)):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(6):
            save_img(tmp_path / "photos" / name / f"{i}.png",
                     np.clip(level + 20 * rng.standard_normal((20, 20, 3)), 0, 255), scale=False)
    code = cli.main(["train", "--arch", "small_vgg", "--data-dir", str(tmp_path / "photos"),
                     "--image-size", "16", "--validation-split", "0.34", "--augment",
                     "--epochs", "1", "--batch-size", "4", "--verbose", "0", "--seed", "0",
                     "--out", str(tmp_path / "run")])
    assert code == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["class_names"] == ["cats", "dogs"] and run["input_shape"] == [16, 16, 3]


class Spy(callbacks.Callback):
    """Remembers the trained model and a copy of its weights before training."""

    def on_train_begin(self, logs=None):
        self.before = [w.copy() for w in self.model.weights]


def test_freeze_backbone_trains_only_the_head(tmp_path):
    spy = Spy()
    assert cli.main(["train", "--arch", "lenet5", "--data", "synthetic", "--samples", "32",
                     "--epochs", "1", "--verbose", "0", "--freeze-backbone",
                     "--out", str(tmp_path / "run")], callbacks=[spy]) == 0
    model = spy.model
    assert [layer.name for layer in model.layers if layer.trainable] == ["predictions"]
    changed = [name for name, w, b in zip(model.weight_names, model.weights, spy.before)
               if not np.array_equal(w, b)]
    assert changed == ["predictions/kernel", "predictions/bias"]


@pytest.mark.parametrize("argv,message", [
    (["train", "--arch", "resnet99", "--data", "synthetic"], "Did you mean 'resnet50'"),
    (["train", "--arch", "lenet5", "--data", "imagenet"], "Unknown dataset 'imagenet'"),
    (["train", "--arch", "lenet5"], "--data NAME"),
    (["train", "--data", "synthetic"], "exactly one of --arch"),
    (["train", "--arch", "lenet5", "--data", "synthetic", "--epochs", "0"],
     "--epochs: expected a positive integer, received '0'"),
    (["train", "--arch", "lenet5", "--data", "synthetic", "--lr", "-1"], "--lr"),
    (["train", "--arch", "lenet5", "--data", "mnist", "--image-size", "32"], "fixed size"),
    (["train", "--arch", "lenet5", "--data", "synthetic", "--optimizer", "adamm"], "adam"),
    (["train", "--resume", "/nonexistent/run"], "no run.json"),
    (["evaluate", "/nonexistent/model.kn", "--data", "synthetic"], "No model file"),
    (["summary", "/nonexistent/model.kn"], "No model file"),
    (["predict", "/nonexistent/model.kn", "x.png"], "No model file"),
    (["frobnicate"], "invalid choice"),
])
def test_user_errors_are_one_line_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kernelnet: error: ")
    assert message in lines[0] and "Traceback" not in captured.err + captured.out


def test_unreadable_model_and_missing_image(tmp_path, trained, capsys):
    (tmp_path / "bad.kn").write_text("junk")
    assert cli.main(["predict", str(tmp_path / "bad.kn"), str(tmp_path)]) == 2
    assert "Could not read a model" in capsys.readouterr().err
    assert cli.main(["predict", str(trained / "model.kn"), str(tmp_path / "none.png")]) == 2
    assert "No such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["predict", str(trained / "model.kn"), str(tmp_path / "empty")]) == 2
    assert "No image files" in capsys.readouterr().err


def test_help_and_python_m(capsys):
    assert cli.main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    import runpy

    with pytest.raises(SystemExit) as done:
        import sys

        sys.argv = ["kernelnet", "--version"]
        runpy.run_module("kernelnet", run_name="__main__")
    assert done.value.code == 0


def test_seed_defaults_to_0_and_is_recorded(tmp_path):
    args = ["train", "--arch", "lenet5", "--data", "synthetic", "--samples", "24",
            "--test-samples", "6", "--epochs", "1", "--verbose", "0"]
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "b")]) == 0
    runs = [json.loads((tmp_path / d / "run.json").read_text()) for d in "ab"]
    assert runs[0]["args"]["seed"] == 0
    assert runs[0]["history"] == runs[1]["history"]        # same command, same numbers


def test_run_json_says_what_validated(trained, tmp_path):
    run = json.loads((trained / "run.json").read_text())
    assert run["args"]["validation_split"] is None
    assert run["validation"] == "the test set (24 samples)"
    assert train(tmp_path, "--validation-split", "0.25") == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["validation"] == "last 0.25 of the training data (12 samples)"


def test_validation_split_holds_out_the_end_of_the_training_arrays():
    import argparse

    args = argparse.Namespace(data="synthetic", data_dir=None, samples=40, test_samples=8,
                              image_size=None, channels=None, validation_split=0.25)
    data = _data.load(args)
    x, y = data.train
    full, _ = _data.synthetic(40)
    assert len(x) == 30 and len(data.x_val) == 10
    np.testing.assert_array_equal(data.x_val, full[30:])
    assert data.validation[0] is data.x_val


def test_folder_with_test_folder_rejects_validation_split(tmp_path):
    from kernelnet.preprocessing.image import save_img

    for part in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / part / cls).mkdir(parents=True)
            save_img(tmp_path / part / cls / "0.png", np.zeros((8, 8, 1)), scale=False)
    code = cli.main(["train", "--arch", "lenet5", "--data-dir", str(tmp_path), "--image-size",
                     "28", "--validation-split", "0.1", "--out", str(tmp_path / "o")])
    assert code == 2


def test_predict_warns_when_background_is_the_opposite_of_training(trained, images, tmp_path,
                                                                   capsys):
    from kernelnet.preprocessing.image import save_img

    x, _ = _data.synthetic(2, (28, 28), 1)                # x[1]: a band in the middle
    save_img(tmp_path / "inverted.png", (1 - x[1]) * 255, scale=False)
    assert cli.main(["predict", str(trained / "model.kn"), str(images / "img0.png"),
                     str(tmp_path / "inverted.png"), "--verbose", "0"]) == 0
    err = capsys.readouterr().err
    assert "inverted.png has a light background" in err and "img0.png" not in err


def test_without_matplotlib_train_claims_no_pictures(tmp_path, monkeypatch, capsys):
    from kernelnet import visualization

    def missing(*args, **kwargs):
        raise ImportError("kernelnet.visualization needs matplotlib, which is not installed.")

    monkeypatch.setattr(visualization, "plot_history", missing)
    assert train(tmp_path) == 0
    out = capsys.readouterr().out
    assert "No pictures written" in out and "png" not in out and "plots" not in out
    assert "Saved model.kn, history.csv, history.json, run.json in" in out
