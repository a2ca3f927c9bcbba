"""The `kernelnet` command (also `python -m kernelnet`).

    kernelnet train --arch lenet5 --data mnist --epochs 2 --out runs/lenet
    kernelnet train --arch small_vgg --data-dir photos/ --image-size 64 --augment --out runs/p
    kernelnet train --resume runs/lenet --epochs 4
    kernelnet evaluate runs/lenet/model.kn --data mnist
    kernelnet predict runs/lenet/model.kn digit.png more_digits/ --top-k 3 [--json]
    kernelnet summary resnet50            (or a model file)
    kernelnet inspect runs/lenet/model.kn --image digit.png --out runs/lenet/inspect

User errors print one line `kernelnet: error: ...` and exit with status 2 (set
KERNELNET_DEBUG=1 for the traceback). `train` checkpoints every epoch; Ctrl-C exits 130, SIGTERM
143 (both resumable with --resume), a NaN loss 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from kernelnet.cli._data import DATASETS, UsageError

_USER_ERRORS = (UsageError, ValueError, TypeError, FileNotFoundError, OSError, ImportError,
                NotImplementedError)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), raised so `main` can return 2."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _number(cast, ok, expected: str):
    """An argparse `type=` that casts the text and checks it, with a one-line error."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
_positive_float = _number(float, lambda v: v > 0, "a positive number")


class _HelpFormatter(argparse.HelpFormatter):
    """`(default: X)` after every flag that has one, and the examples as written.

    Like `ArgumentDefaultsHelpFormatter`, but silent for flags whose default is "not given"
    (None, False), where the help line says what happens instead.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False
        if not unset and action.default is not argparse.SUPPRESS and action.option_strings \
                and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):   # command lines keep their lines
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _command(sub: Any, name: str, summary: str, description: str, examples: str):
    """A subcommand parser with a description, examples and the defaults in its help."""
    return sub.add_parser(name, help=summary, description=description,
                          epilog="examples:\n" + examples, formatter_class=_HelpFormatter)


def _add_data_flags(p: argparse.ArgumentParser, train: bool) -> None:
    p.add_argument("--data", metavar="NAME", help=f"a named dataset: {', '.join(DATASETS)}")
    p.add_argument("--data-dir", metavar="DIR",
                   help="a folder of images with one subfolder per class, or with train/ and "
                        "test/ folders of those")
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                   help="samples per gradient step" if train else "samples per forward pass")
    p.add_argument("--test-samples", type=_positive_int, metavar="N",
                   help="use only the first N test samples (default: all)")
    if train:
        p.add_argument("--samples", type=_positive_int, metavar="N",
                       help="use only the first N training samples (default: all)")
        p.add_argument("--image-size", metavar="N|HxW",
                       help="resize images to N x N or H x W pixels (--data-dir: 64, "
                            "synthetic: 28; named datasets keep their size)")
        p.add_argument("--channels", type=int, choices=(1, 3),
                       help="1 = grayscale, 3 = RGB (--data-dir: 3, synthetic: 1)")
        p.add_argument("--validation-split", type=_fraction, metavar="FRACTION",
                       help="fraction of the training data held out to validate on after each "
                            "epoch. --data-dir without a test/ folder: 0.2, and the held-out "
                            "part is also the test set; otherwise the test set validates "
                            "unless this is given")
        p.add_argument("--augment", action="store_true",
                       help="random rotation (15 deg), shifts (10%%), zoom (10%%) and "
                            "horizontal flips")
        p.add_argument("--rotation-range", type=float, default=0.0, metavar="DEG",
                       help="random rotation up to this many degrees")
        p.add_argument("--width-shift-range", type=float, default=0.0, metavar="FRACTION",
                       help="random horizontal shift up to this fraction of the width")
        p.add_argument("--height-shift-range", type=float, default=0.0, metavar="FRACTION",
                       help="random vertical shift up to this fraction of the height")
        p.add_argument("--zoom-range", type=float, default=0.0, metavar="FRACTION",
                       help="random zoom in or out by up to this fraction")
        p.add_argument("--horizontal-flip", action="store_true",
                       help="flip half of the images left-right")


def _verbose(p: argparse.ArgumentParser, two: str | None = None) -> None:
    p.add_argument("--verbose", type=int, choices=(0, 1, 2) if two else (0, 1), default=1,
                   help="0 = quiet, 1 = progress bar" + (f", 2 = {two}" if two else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kernelnet", formatter_class=_HelpFormatter,
                     description="Train, evaluate and look inside NumPy CNNs. "
                                 "`kernelnet COMMAND --help` describes each command.",
                     epilog="examples:\n" + _EXAMPLES)
    parser.add_argument("--version", action="version", version=_version(),
                        help="print the kernelnet version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="COMMAND", help="one of:")

    p = _command(sub, "train", "train a zoo or saved model on a dataset or an image folder",
                 "Trains a zoo architecture (--arch) or a saved model (--model) and writes, in "
                 "--out DIR: model.kn, history.csv, history.json, run.json (arguments, seed, "
                 "epochs done, test metrics, class names) and, with matplotlib, history.png, "
                 "confusion_matrix.png and predictions.png. Images are scaled to [0, 1]; the "
                 "loss is categorical crossentropy. Ctrl-C saves checkpoint.kn; "
                 "--resume DIR continues from it.",
                 "  kernelnet train --arch lenet5 --data mnist --epochs 2 --out runs/lenet\n"
                 "  kernelnet train --arch mnist_cnn --data mnist --batch-size 128 --out "
                 "runs/mnist_cnn\n"
                 "  kernelnet train --arch small_vgg --data-dir photos/ --image-size 64 --augment "
                 "--out runs/photos\n"
                 "  kernelnet train --arch resnet50 --weights imagenet --freeze-backbone "
                 "--data-dir photos/ --image-size 150\n"
                 "  kernelnet train --resume runs/lenet --epochs 4")
    p.add_argument("--arch", metavar="NAME", help="a zoo architecture: " + ", ".join(_ARCHS))
    p.add_argument("--model", metavar="FILE", help="a saved model file to keep training or "
                                                   "fine-tune")
    p.add_argument("--weights", metavar="imagenet|FILE",
                   help="for vgg16/resnet*: 'imagenet' (Keras' files in $KERNELNET_HOME/models) "
                        "or a weights file")
    _add_data_flags(p, train=True)
    p.add_argument("--epochs", type=_positive_int, metavar="N",
                   help="passes over the training data (default: 5; with --resume: the total "
                        "the run asked for)")
    p.add_argument("--optimizer", default="adam", metavar="NAME",
                   help="adam, sgd, rmsprop, adagrad, adadelta or adamw, with Keras' defaults")
    p.add_argument("--lr", type=_positive_float, metavar="RATE",
                   help="learning rate (default: the optimizer's, 0.001 for adam)")
    p.add_argument("--freeze-backbone", action="store_true",
                   help="train only the classifier (transfer learning)")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the weight initialization, shuffling, dropout and "
                        "augmentation; recorded in run.json, so a run can be repeated")
    p.add_argument("--out", default="runs/kernelnet", metavar="DIR",
                   help="folder for the model, history, run.json and pictures")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR (its "
                                                   "checkpoint.kn, or model.kn to train more)")
    _verbose(p, "one line per epoch")

    p = _command(sub, "evaluate", "loss and accuracy of a saved model",
                 "Prints the loss and accuracy of a saved model on a dataset's test split or "
                 "on a whole image folder. Without --data/--data-dir it uses the dataset named "
                 "in the run.json next to the model.",
                 "  kernelnet evaluate runs/lenet/model.kn\n"
                 "  kernelnet evaluate runs/photos/model.kn --data-dir more_photos/")
    p.add_argument("model", metavar="MODEL", help="a model file (.kn, .keras or .h5)")
    _add_data_flags(p, train=False)
    _verbose(p, "one line at the end")

    p = _command(sub, "predict", "top classes of image files",
                 "Prints the top classes of each image, resized and scaled like the training "
                 "data. Class names come from the run.json next to the model. Warns when an "
                 "image's background is the opposite of the training images' (MNIST digits "
                 "are white on black).",
                 "  kernelnet predict runs/lenet/model.kn digit.png\n"
                 "  kernelnet predict runs/photos/model.kn new_photos/ --top-k 3 --json")
    p.add_argument("model", metavar="MODEL", help="a model file (.kn, .keras or .h5)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders "
                                                            "(searched recursively)")
    p.add_argument("--top-k", type=_positive_int, default=3, metavar="K",
                   help="classes shown per image")
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                   help="images per forward pass")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _verbose(p)

    p = _command(sub, "summary", "layer table of a model file or a zoo architecture",
                 "Prints the layers, output shapes, parameter counts and multiply-adds of a "
                 "saved model or of a zoo architecture, fitted to the terminal's width.",
                 "  kernelnet summary lenet5\n"
                 "  kernelnet summary resnet50 --input-shape 150 150 3 --classes 2\n"
                 "  kernelnet summary runs/lenet/model.kn")
    p.add_argument("target", metavar="MODEL|ARCH",
                   help="a model file, or a zoo architecture: " + ", ".join(_ARCHS))
    p.add_argument("--input-shape", type=_positive_int, nargs=3, metavar=("H", "W", "C"),
                   help="input size for a zoo architecture (default: the architecture's)")
    p.add_argument("--classes", type=_positive_int, metavar="N",
                   help="output classes for a zoo architecture (default: the architecture's)")

    p = _command(sub, "inspect", "pictures of kernels, feature maps and Grad-CAM",
                 "Writes, for one image, the kernels and feature maps of every Conv2D layer "
                 "and a Grad-CAM heat map of the pixels behind the prediction (needs "
                 "matplotlib).",
                 "  kernelnet inspect runs/lenet/model.kn --image digit.png --out "
                 "runs/lenet/inspect")
    p.add_argument("model", metavar="MODEL", help="a model file (.kn, .keras or .h5)")
    p.add_argument("--image", required=True, metavar="FILE", help="the image to look at")
    p.add_argument("--out", default="inspect", metavar="DIR", help="folder for the pictures")
    _verbose(p)
    return parser


_ARCHS = ("lenet5", "mnist_cnn", "cifar10_cnn", "alexnet", "small_vgg", "vgg16", "resnet18",
          "resnet34", "resnet50")
_EXAMPLES = """\
  kernelnet train --arch lenet5 --data mnist --epochs 2 --out runs/lenet
  kernelnet evaluate runs/lenet/model.kn
  kernelnet predict runs/lenet/model.kn digit.png --top-k 3
  kernelnet summary resnet50
  kernelnet inspect runs/lenet/model.kn --image digit.png --out runs/lenet/inspect"""


def _version() -> str:
    from kernelnet import __version__

    return f"kernelnet {__version__}"


def _dispatch(args: argparse.Namespace, callbacks: list | None) -> int:
    from kernelnet.cli import _commands, _train

    if args.command == "train":
        return _train.run(args, callbacks)
    return getattr(_commands, args.command)(args)


def main(argv: list[str] | None = None, *, callbacks: list | None = None) -> int:
    """Runs the command line; returns the exit status (0 ok, 1 training diverged, 2 user error,
    130 interrupted, 143 terminated).

    `callbacks` are extra Keras callbacks for `train` (used by tests and embedding code).
    """
    try:
        args = build_parser().parse_args(argv)
        return _dispatch(args, callbacks)
    except SystemExit as done:  # --help / --version
        return done.code if isinstance(done.code, int) else 0
    except _USER_ERRORS as err:
        if os.environ.get("KERNELNET_DEBUG"):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"kernelnet: error: {message}", file=sys.stderr)
        return 2
    except MemoryError:
        if os.environ.get("KERNELNET_DEBUG"):
            raise
        print("kernelnet: error: out of memory. Use a smaller --image-size, --batch-size or "
              "--samples.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kernelnet: interrupted", file=sys.stderr)
        return 130


__all__ = ["build_parser", "main"]
