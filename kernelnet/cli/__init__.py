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


def _add_data_flags(p: argparse.ArgumentParser, train: bool) -> None:
    p.add_argument("--data", help=f"dataset: {', '.join(DATASETS)}")
    p.add_argument("--data-dir", help="folder of images, one subfolder per class (or train/ "
                                      "and test/ folders of those)")
    p.add_argument("--batch-size", type=_positive_int, default=32)
    p.add_argument("--samples", type=_positive_int, help="use the first N training samples")
    p.add_argument("--test-samples", type=_positive_int, help="use the first N test samples")
    if train:
        p.add_argument("--image-size", help="N or HxW for --data-dir / synthetic (default 64/28)")
        p.add_argument("--channels", type=int, choices=(1, 3), help="1 = grayscale, 3 = RGB")
        p.add_argument("--validation-split", type=_fraction, default=0.2,
                       help="held-out fraction of --data-dir without a test/ folder")
        p.add_argument("--augment", action="store_true", help="rotation, shifts, zoom, flips")
        p.add_argument("--rotation-range", type=float, default=0.0)
        p.add_argument("--width-shift-range", type=float, default=0.0)
        p.add_argument("--height-shift-range", type=float, default=0.0)
        p.add_argument("--zoom-range", type=float, default=0.0)
        p.add_argument("--horizontal-flip", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kernelnet", description="Train, evaluate and look inside NumPy CNNs.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a zoo or saved model")
    p.add_argument("--arch", help="zoo model: lenet5, mnist_cnn, cifar10_cnn, alexnet, "
                                  "small_vgg, vgg16, resnet18, resnet34, resnet50")
    p.add_argument("--model", help="a saved model file to keep training or fine-tune")
    p.add_argument("--weights", help="for vgg16/resnet50: 'imagenet' or a weights file")
    _add_data_flags(p, train=True)
    p.add_argument("--epochs", type=_positive_int, help="default 5 (with --resume: as before)")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=_positive_float, help="learning rate")
    p.add_argument("--freeze-backbone", action="store_true",
                   help="train only the classifier (transfer learning)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", default="runs/kernelnet", help="output folder")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)

    p = sub.add_parser("evaluate", help="loss and accuracy of a saved model")
    p.add_argument("model")
    _add_data_flags(p, train=False)
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)

    p = sub.add_parser("predict", help="top-k classes of images")
    p.add_argument("model")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--top-k", type=_positive_int, default=3)
    p.add_argument("--batch-size", type=_positive_int, default=32)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--verbose", type=int, choices=(0, 1), default=1)

    p = sub.add_parser("summary", help="layer table of a model file or a zoo architecture")
    p.add_argument("target", metavar="MODEL|ARCH")
    p.add_argument("--input-shape", type=_positive_int, nargs=3, metavar=("H", "W", "C"))
    p.add_argument("--classes", type=_positive_int)

    p = sub.add_parser("inspect", help="pictures of kernels, feature maps and Grad-CAM")
    p.add_argument("model")
    p.add_argument("--image", required=True)
    p.add_argument("--out", default="inspect")
    p.add_argument("--verbose", type=int, choices=(0, 1), default=1)
    return parser


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
