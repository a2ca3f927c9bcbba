"""`kernelnet train`: fit a model, write its files and pictures, survive Ctrl-C.

Files in `--out DIR`: model.kn, history.csv, history.json, run.json (arguments, epochs done,
test metrics, class names), history.png, confusion_matrix.png, predictions.png. Ctrl-C writes
checkpoint.kn (with optimizer state) and the history so far; `--resume DIR` continues.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kernelnet import callbacks as callbacks_module
from kernelnet.cli import _data, _models
from kernelnet.cli._data import UsageError

INTERRUPTED = 130


class _RunRecorder(callbacks_module.Callback):
    """Keeps the full history (across resumes) and writes history.json + run.json each epoch."""

    def __init__(self, out: Path, state: dict):
        super().__init__()
        self.out, self.state = out, state

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.state["history"].setdefault(key, []).append(float(value))
        self.state["epochs_done"] = epoch + 1
        self.save()

    def save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "history.json").write_text(json.dumps(self.state["history"], indent=1))
        (self.out / "run.json").write_text(json.dumps(self.state, indent=1))


def _resume_state(args: argparse.Namespace) -> tuple[argparse.Namespace, dict, Any, Path]:
    """Arguments, run state, model and model file of the run in `--resume DIR`."""
    out = Path(args.resume)
    run_file = out / "run.json"
    if not run_file.is_file():
        raise UsageError(f"--resume {str(out)!r}: no run.json there; expected the --out folder "
                         "of an earlier `kernelnet train`.")
    state = json.loads(run_file.read_text())
    saved = argparse.Namespace(**state["args"])
    if args.epochs is not None:
        saved.epochs = args.epochs
    saved.verbose, saved.out, saved.resume = args.verbose, str(out), str(out)
    checkpoint = out / "checkpoint.kn"
    path = checkpoint if checkpoint.is_file() else out / "model.kn"
    return saved, state, _models.load(path), path


def _restore_random_stream(path: Path) -> None:
    """Continues the shuffling/dropout stream saved in `path`, so a resume is bit-exact.

    Files saved without a training state (include_optimizer=False) resume with a fresh stream.
    """
    from kernelnet import saving

    if saving.has_training_state(path):
        saving.restore_training_state(path)


def _new_model(args: argparse.Namespace, data: _data.Data) -> Any:
    classes = len(data.class_names)
    if args.model:
        model = _models.load(args.model, compile=False)
        out_classes = model.compute_output_shape((None, *data.input_shape))[-1]
        if out_classes != classes:
            raise UsageError(f"Model {args.model!r} predicts {out_classes} classes but the data "
                             f"has {classes}: {data.class_names[:10]}.")
        if args.freeze_backbone:
            _models.freeze_all_but_head(model)
    else:
        model = _models.build(args.arch, data.input_shape, classes, args.freeze_backbone,
                              args.weights)
    from kernelnet import optimizers

    optimizer = optimizers.get(args.optimizer)
    if args.lr is not None:
        optimizer.learning_rate = args.lr
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _fit(model: Any, data: _data.Data, args: argparse.Namespace, recorder: _RunRecorder,
         extra_callbacks: list, initial_epoch: int) -> None:
    out = Path(args.out)
    cbs = [callbacks_module.CSVLogger(out / "history.csv", append=initial_epoch > 0), recorder,
           *extra_callbacks]
    validation = data.validation
    if isinstance(data.train, tuple):
        x, y = data.train
        model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose,
                  callbacks=cbs, validation_data=validation, initial_epoch=initial_epoch)
    else:
        model.fit(data.train, epochs=args.epochs, verbose=args.verbose, callbacks=cbs,
                  validation_data=validation, initial_epoch=initial_epoch)


def _report(model: Any, data: _data.Data, out: Path, state: dict) -> list[str]:
    """Test metrics into run.json and, when matplotlib is there, the three pictures (their
    file names are returned)."""
    if not len(data.x_test):
        return []
    metrics = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    state["test"] = {k: float(v) for k, v in metrics.items()}
    print("Test: " + "  ".join(f"{k}: {v:.4f}" for k, v in state["test"].items()))
    try:
        from kernelnet import visualization as vis

        probs = model.predict(data.x_test, verbose=0)
        vis.plot_history(state["history"], path=out / "history.png")
        vis.plot_confusion_matrix(data.y_test, probs, data.class_names,
                                  path=out / "confusion_matrix.png")
        vis.plot_predictions(data.x_test[:8], probs[:8], data.class_names, data.y_test[:8],
                             path=out / "predictions.png")
    except ImportError as err:
        print(f"No pictures written: {err}")
        return []
    return ["history.png", "confusion_matrix.png", "predictions.png"]


def run(args: argparse.Namespace, extra_callbacks: list | None = None) -> int:
    """Runs `kernelnet train`; returns the exit status (0, or 130 after Ctrl-C)."""
    from kernelnet import utils

    resume_from = None
    if args.resume:
        args, state, model, resume_from = _resume_state(args)
    else:
        if not (args.arch or args.model) or (args.arch and args.model):
            raise UsageError("train needs exactly one of --arch NAME or --model FILE "
                             "(or --resume DIR).")
        args.epochs = 5 if args.epochs is None else args.epochs
        state, model = {"args": vars(args).copy(), "epochs_done": 0, "history": {}}, None
    if args.seed is not None:
        utils.set_random_seed(args.seed)
    out = Path(args.out)
    data = _data.load(args, _models.image_shape(model) if model is not None else None)
    model = model or _new_model(args, data)
    state.update(class_names=data.class_names, data=data.name, input_shape=data.input_shape,
                 rescale=1 / 255, **data.extra)
    if args.verbose:
        print(f"Training on {data.name}, validating on {state.get('validation')}, "
              f"seed {args.seed}.")
    recorder = _RunRecorder(out, state)
    recorder.save()
    if resume_from is not None:  # after the seed, data and model, which may draw from it
        _restore_random_stream(resume_from)
    try:
        _fit(model, data, args, recorder, extra_callbacks or [], state["epochs_done"])
    except KeyboardInterrupt:
        model.save(out / "checkpoint.kn")
        recorder.save()
        print(f"\nInterrupted after {state['epochs_done']} epoch(s). Saved "
              f"{out / 'checkpoint.kn'} and the history so far.\n"
              f"Resume with: kernelnet train --resume {out}")
        return INTERRUPTED
    model.save(out / "model.kn")
    (out / "checkpoint.kn").unlink(missing_ok=True)
    pictures = _report(model, data, out, state)
    recorder.save()
    print(f"Saved {', '.join(['model.kn', 'history.csv', 'history.json', 'run.json', *pictures])}"
          f" in {out}/")
    return 0
