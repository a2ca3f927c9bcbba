"""`kernelnet train`: fit a model, write its files and pictures, survive Ctrl-C, SIGTERM and NaN.

Files in `--out DIR`: model.kn, history.csv, history.json, run.json (arguments, run id, epochs
done, test metrics, class names), history.png, confusion_matrix.png, predictions.png.

After every epoch, checkpoint.kn (weights, optimizer and random-stream state, and the run id,
epoch count and history it belongs to) is written atomically, then run.json and the histories.
The checkpoint is the truth: a kill at any moment leaves the last finished epoch resumable,
and `--resume DIR` takes epoch count and history from it, so both always agree. Ctrl-C or
SIGTERM mid-epoch drop the unfinished epoch. A NaN loss stops training (TerminateOnNaN): the
last good checkpoint is kept, nothing non-finite is written, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from kernelnet import callbacks as callbacks_module
from kernelnet.cli import _data, _models
from kernelnet.cli._data import UsageError

INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 128 + 15
DIVERGED = 1
CHECKPOINT = "checkpoint.kn"


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into what Ctrl-C raises so that both take the same way out."""


def _write(path: Path, text: str) -> None:
    from kernelnet.saving import atomic_write

    atomic_write(path, lambda f: f.write(text.encode()))


class _RunRecorder(callbacks_module.Callback):
    """Per finished epoch: checkpoint.kn first, then run.json and the histories. An epoch with a
    non-finite loss, metric or weight is not recorded: training stops (`diverged`)."""

    def __init__(self, out: Path, state: dict):
        super().__init__()
        self.out, self.state = out, state
        self.diverged: int | None = None  # the 1-based epoch that went non-finite

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        values = {k: float(np.mean(v)) for k, v in (logs or {}).items()}
        if not all(math.isfinite(v) for v in values.values()) or not all(
                np.isfinite(w).all() for w in self.model.weights):
            self.diverged = epoch + 1
            self.model.stop_training = True
            return
        history = {k: list(v) for k, v in self.state["history"].items()}
        for key, value in values.items():
            history.setdefault(key, []).append(value)
        self.checkpoint(history, epoch + 1)
        # Only once the checkpoint holds the epoch: run.json never runs ahead of it.
        self.state.update(history=history, epochs_done=epoch + 1)
        self.save()

    def checkpoint(self, history: dict, epochs_done: int, name: str = CHECKPOINT) -> None:
        from kernelnet import saving

        run = {"run_id": self.state["run_id"], "epochs_done": epochs_done, "history": history}
        saving.save_model(self.model, self.out / name, run_info=run)

    def save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        history = self.state["history"]
        _write(self.out / "history.json", json.dumps(history, indent=1))
        _write(self.out / "history.csv", _csv(history))
        _write(self.out / "run.json", json.dumps(self.state, indent=1))


def _csv(history: dict) -> str:
    """history.csv as `CSVLogger` writes it: `epoch,<sorted keys>`, 0-based epochs."""
    keys = sorted(history)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch in range(max((len(v) for v in history.values()), default=0)):
        writer.writerow([epoch, *(history[k][epoch] if epoch < len(history[k]) else "NA"
                                  for k in keys)])
    return text.getvalue()


def _read_run(run_file: Path) -> dict:
    """run.json, checked: a tampered or foreign file gives a one-line error."""
    try:
        state = json.loads(run_file.read_text())
    except (ValueError, OSError) as err:  # JSONDecodeError, bad UTF-8
        raise UsageError(f"Cannot resume: {str(run_file)!r} is not readable JSON ({err}).") \
            from None
    expected = {"args": dict, "run_id": str, "epochs_done": int, "history": dict}
    bad = [k for k, kind in expected.items()
           if not isinstance(state, dict) or not isinstance(state.get(k), kind)]
    if bad:
        raise UsageError(f"Cannot resume: {str(run_file)!r} is not a run record of this "
                         f"kernelnet (missing or wrong: {', '.join(bad)}). Expected the run.json "
                         "that `kernelnet train --out DIR` writes; start a new run instead.")
    return state


def _resume_state(args: argparse.Namespace) -> tuple[argparse.Namespace, dict, Any, Any]:
    """Arguments, run state, model and model file of the run in `--resume DIR` (model and file
    are None when no epoch had finished: the run starts again)."""
    from kernelnet import saving
    from kernelnet.cli import build_parser

    out = Path(args.resume)
    run_file = out / "run.json"
    if not run_file.is_file():
        raise UsageError(f"--resume {str(out)!r}: no run.json there; expected the --out folder "
                         "of an earlier `kernelnet train`.")
    state = _read_run(run_file)
    saved = build_parser().parse_args(["train"])  # defaults for keys an edit may have dropped
    known = {k: v for k, v in state["args"].items() if hasattr(saved, k)}
    vars(saved).update(known)
    for flag in ("epochs", "lr"):
        if getattr(args, flag) is not None:
            setattr(saved, flag, getattr(args, flag))
    saved.verbose, saved.out, saved.resume = args.verbose, str(out), str(out)
    state["args"].update(epochs=saved.epochs, lr=saved.lr)
    path = out / CHECKPOINT if (out / CHECKPOINT).is_file() else out / "model.kn"
    try:
        info = (saving.read_training_state(path) or {}).get("run") if path.is_file() else None
    except ValueError as err:
        raise UsageError(f"Cannot resume from {str(path)!r}: {err}") from None
    if not isinstance(info, dict) or info.get("run_id") != state["run_id"]:
        if state["epochs_done"] == 0 and state["history"] == {}:
            return saved, state, None, None  # nothing was finished: start the run again
        found = info.get("run_id") if isinstance(info, dict) else None
        raise UsageError(
            f"Cannot resume: {str(path)!r} " + ("is missing" if not path.is_file() else
                                                f"belongs to another run (run id {found})")
            + f", not to the run recorded in {str(run_file)!r} (run id {state['run_id']}). "
            "Was the folder reused by another `kernelnet train --out`? Start a new run.")
    epochs, history = info.get("epochs_done"), info.get("history")
    if not isinstance(epochs, int) or not isinstance(history, dict):
        raise UsageError(f"Cannot resume: the run record inside {str(path)!r} is damaged.")
    state.update(epochs_done=epochs, history=history)
    return saved, state, _models.load(path), path


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


def _continue_data(data: _data.Data, state: dict) -> None:
    """The folder iterator continues with the run's shuffling seed at the next epoch, as an
    uninterrupted run would (its order and augmentation depend on both)."""
    train = data.train
    if isinstance(train, tuple) or not hasattr(train, "on_epoch_end"):
        return
    if "data_seed" in state:
        train.seed = int(state["data_seed"])
    state["data_seed"] = train.seed
    train.epoch = state["epochs_done"] - 1
    train.on_epoch_end()  # epoch = epochs_done: new order, pending batches dropped


def _fit(model: Any, data: _data.Data, args: argparse.Namespace, recorder: _RunRecorder,
         extra_callbacks: list, initial_epoch: int) -> None:
    cbs = [callbacks_module.TerminateOnNaN(), recorder, *extra_callbacks]
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


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Interrupted


def run(args: argparse.Namespace, extra_callbacks: list | None = None) -> int:
    """Runs `kernelnet train`; returns the exit status (0; 130 after Ctrl-C, 143 after
    SIGTERM; 1 when the loss became NaN)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return _run(args, extra_callbacks)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, extra_callbacks: list | None) -> int:
    from kernelnet import utils

    model = resume_from = None
    if args.resume:
        args, state, model, resume_from = _resume_state(args)
    else:
        if not (args.arch or args.model) or (args.arch and args.model):
            raise UsageError("train needs exactly one of --arch NAME or --model FILE "
                             "(or --resume DIR).")
        args.epochs = 5 if args.epochs is None else args.epochs
        state = {"args": vars(args).copy(), "run_id": uuid.uuid4().hex, "epochs_done": 0,
                 "history": {}}
    if args.seed is not None:
        utils.set_random_seed(args.seed)
    out = Path(args.out)
    data = _data.load(args, _models.image_shape(model) if model is not None else None)
    _continue_data(data, state)
    model = model or _new_model(args, data)
    if resume_from is not None and args.lr is not None:
        model.optimizer.learning_rate = args.lr
    state.update(class_names=data.class_names, data=data.name, input_shape=data.input_shape,
                 rescale=1 / 255, **data.extra)
    state.pop("stopped", None)  # a diverged run resumed (with a lower --lr)
    if args.verbose:
        print(f"Training on {data.name}, validating on {state.get('validation')}, "
              f"seed {args.seed}.")
    recorder = _RunRecorder(out, state)
    recorder.save()
    if resume_from is not None:  # after the seed, data and model, which may draw from it
        _restore_random_stream(resume_from)
    try:
        _fit(model, data, args, recorder, extra_callbacks or [], state["epochs_done"])
    except KeyboardInterrupt as stop:
        recorder.save()
        done = state["epochs_done"]
        kept = (f"{out / CHECKPOINT} holds the {done} finished epoch(s)" if done else
                "no epoch had finished")
        print(f"\nInterrupted in epoch {done + 1}; {kept}.\n"
              f"Resume with: kernelnet train --resume {out}")
        return 128 + signal.SIGTERM if isinstance(stop, _Interrupted) else INTERRUPTED
    if recorder.diverged is not None:
        return _diverged(recorder, out, args)
    recorder.checkpoint(state["history"], state["epochs_done"], name="model.kn")
    (out / CHECKPOINT).unlink(missing_ok=True)
    pictures = _report(model, data, out, state)
    recorder.save()
    print(f"Saved {', '.join(['model.kn', 'history.csv', 'history.json', 'run.json', *pictures])}"
          f" in {out}/")
    return 0


def _diverged(recorder: _RunRecorder, out: Path, args: argparse.Namespace) -> int:
    state, epoch = recorder.state, recorder.diverged
    state["stopped"] = f"the loss or the weights became NaN or infinite in epoch {epoch}"
    recorder.save()
    done = state["epochs_done"]
    kept = (f"The last good checkpoint, {out / CHECKPOINT} (epoch {done}), is kept; model.kn "
            "was not written." if done else "No epoch had finished, so there is no checkpoint.")
    lr = f" (it was {args.lr})" if args.lr is not None else ""
    print(f"kernelnet: error: training diverged: {state['stopped']}. {kept} Try a lower "
          f"learning rate{lr}: kernelnet train --resume {out} --lr <smaller>, and check the "
          "data for extreme values.", file=sys.stderr)
    return DIVERGED


def _restore_random_stream(path: Path) -> None:
    """Continues the shuffling/dropout stream saved in `path`, so a resume is bit-exact.

    Files saved without a training state (include_optimizer=False) resume with a fresh stream.
    """
    from kernelnet import saving

    if saving.has_training_state(path):
        saving.restore_training_state(path)
