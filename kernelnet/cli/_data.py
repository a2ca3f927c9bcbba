"""Data for the command line: named datasets, image folders and tiny synthetic data.

Every source gives float32 images scaled to [0, 1] and one-hot labels, so a model trained by
`kernelnet train` can be evaluated and used by `kernelnet evaluate/predict` the same way.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kernelnet._typing import Array

DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100", "synthetic")
CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
}
SYNTHETIC_CLASSES = ["top", "middle", "bottom"]
MAX_IMAGE_SIDE = 4096


class UsageError(Exception):
    """A user mistake the CLI reports in one line (exit status 2)."""


@dataclass
class Data:
    """Training data (arrays or an iterator), test arrays, and what the model needs to know."""

    name: str
    train: Any                       # (x, y) arrays, or a Keras-style batch iterator
    x_test: Array
    y_test: Array                    # one-hot (n, classes)
    class_names: list[str]
    input_shape: tuple[int, int, int]
    extra: dict = field(default_factory=dict)
    x_val: Array | None = None       # held out of the training data by --validation-split
    y_val: Array | None = None

    @property
    def validation(self) -> tuple[Array, Array] | None:
        """What `fit` validates on: the held-out part, else the test set (if any)."""
        if self.x_val is not None:
            return self.x_val, self.y_val
        return (self.x_test, self.y_test) if len(self.x_test) else None


def background(x: Array) -> float:
    """Mean of the images' border pixels (the background), in [0, 1]: ~0 for MNIST digits."""
    x = np.asarray(x[:1000], dtype=np.float32)
    border = np.concatenate([x[:, 0].ravel(), x[:, -1].ravel(), x[:, :, 0].ravel(),
                             x[:, :, -1].ravel()])
    return float(border.mean())


def hold_out(data: Data, fraction: float | None) -> Data:
    """Moves the last `fraction` of array training data to the validation set (as Keras'
    `fit(validation_split=...)` does) and records in `extra` what validates."""
    x, y = data.train
    if fraction:
        k = int(len(x) * fraction)
        if not 0 < k < len(x):
            raise UsageError(f"--validation-split {fraction} of {len(x)} training samples "
                             f"leaves {k} to validate on; use a larger fraction.")
        data.train, data.x_val, data.y_val = (x[:-k], y[:-k]), x[-k:], y[-k:]
        data.extra["validation"] = f"last {fraction:g} of the training data ({k} samples)"
    else:
        data.extra["validation"] = f"the test set ({len(data.x_test)} samples)"
    data.extra["background"] = background(x)
    return data


def one_hot(y: Array, classes: int) -> Array:
    return np.eye(classes, dtype="float32")[np.asarray(y).reshape(-1)]


def synthetic(n: int, size: tuple[int, int] = (28, 28), channels: int = 1,
              seed: int = 0) -> tuple[Array, Array]:
    """`n` noisy images of 3 classes: a bright horizontal band at the top, middle or bottom."""
    rng = np.random.default_rng(seed)
    h, w = size
    y = np.arange(n) % 3
    x = 0.2 * rng.random((n, h, w, channels), dtype=np.float32)
    band = max(h // 4, 1)
    for k in range(3):
        start = [0, (h - band) // 2, h - band][k]
        x[y == k, start:start + band] += 0.8
    return x, y


def _named(name: str, samples: int | None, test_samples: int | None) -> Data:
    module = importlib.import_module(f"kernelnet.datasets.{name}")
    (x, y), (xt, yt) = module.load_data()
    x, y, xt, yt = x[:samples], y[:samples], xt[:test_samples], yt[:test_samples]
    if x.ndim == 3:
        x, xt = x[..., np.newaxis], xt[..., np.newaxis]
    classes = 100 if name == "cifar100" else 10
    names = CLASS_NAMES.get(name, [str(i) for i in range(classes)])
    x, xt = x.astype("float32") / 255, xt.astype("float32") / 255
    return Data(name, (x, one_hot(y, classes)), xt, one_hot(yt, classes), names, x.shape[1:])


def parse_size(text: str) -> tuple[int, int]:
    """'64' -> (64, 64); '48x64' -> (48, 64) (height x width)."""
    parts = text.lower().split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or min(size) < 1:
        raise UsageError(f"--image-size expects N or HxW with positive integers, e.g. 64 or 48x64."
                         f" Received: {text!r}.")
    if max(size) > MAX_IMAGE_SIDE:
        raise UsageError(f"--image-size {text} is too large: at most {MAX_IMAGE_SIDE} pixels a "
                         "side (CNNs train on 28 to 512). Received: "
                         f"{size[0]}x{size[1]}.")
    return size


def folder_iterators(data_dir: Path, size: tuple[int, int], channels: int, batch_size: int,
                     validation_split: float, augment: dict, seed: int | None):
    """`(train_iterator, test_iterator)` from `DIR/train` + `DIR/test|validation`, or a split."""
    from kernelnet.preprocessing.image import ImageDataGenerator

    color = "grayscale" if channels == 1 else "rgb"
    sub = {p.name: p for p in data_dir.iterdir() if p.is_dir()} if data_dir.is_dir() else {}
    test_dir = sub.get("test") or sub.get("validation") or sub.get("val")
    if "train" in sub and test_dir and validation_split:
        raise UsageError(f"--validation-split applies to a --data-dir without a test/ folder; "
                         f"{str(data_dir)!r} has train/ and {test_dir.name}/, which validates.")
    split = 0.0 if "train" in sub and test_dir else validation_split
    common = dict(target_size=size, color_mode=color, batch_size=batch_size, seed=seed)
    train_gen = ImageDataGenerator(rescale=1 / 255, validation_split=split, **augment)
    test_gen = ImageDataGenerator(rescale=1 / 255, validation_split=split)
    if split:
        train = train_gen.flow_from_directory(data_dir, subset="training", **common)
        test = test_gen.flow_from_directory(data_dir, subset="validation", shuffle=False,
                                            **common)
        for part, it in (("training", train), ("validation", test)):
            if it.samples == 0:
                raise UsageError(
                    f"--validation-split {validation_split} of {str(data_dir)!r} leaves no "
                    f"{part} image ({train.samples + test.samples} images in "
                    f"{train.num_classes} classes; each class gives "
                    f"int({validation_split} * its images) to validation). Use another "
                    "--validation-split, or train/ and test/ subfolders.")
    elif "train" in sub and test_dir:
        train = train_gen.flow_from_directory(sub["train"], **common)
        test = test_gen.flow_from_directory(test_dir, shuffle=False, **common)
    else:  # a plain class folder, all of it for training (or for `kernelnet evaluate`)
        train, test = train_gen.flow_from_directory(data_dir, **common), None
    return train, test


def collect(iterator: Any) -> tuple[Array, Array]:
    """All batches of a non-shuffling iterator as two arrays."""
    xs, ys = zip(*(iterator[i] for i in range(len(iterator))))
    return np.concatenate(xs), np.concatenate(ys)


def load(args: Any, input_shape: tuple | None = None) -> Data:
    """The data named by `--data` or `--data-dir` (`input_shape` fixes size/channels)."""
    if args.data_dir:
        data_dir = Path(args.data_dir)
        if not data_dir.is_dir():
            raise UsageError(f"--data-dir {str(data_dir)!r} is not a folder.")
        size = tuple(input_shape[:2]) if input_shape else parse_size(args.image_size or "64")
        channels = input_shape[2] if input_shape else (args.channels or 3)
        split = getattr(args, "validation_split", None)
        split = 0.2 if split is None and not (data_dir / "train").is_dir() else split
        train, test = folder_iterators(data_dir, size, channels, args.batch_size, split or 0.0,
                                       augmentation(args), args.seed)
        names = sorted(train.class_indices, key=train.class_indices.get)
        if test is None:
            x_test = np.zeros((0, *size, channels), "float32")
            y_test = np.zeros((0, len(names)), "float32")
            held_out = "none"
        else:
            x_test, y_test = collect(test)
            held_out = (f"{split:g} of {data_dir} held out" if split
                        else f"{Path(test.directory).name}/ folder")
        return Data(str(data_dir), train, x_test, y_test, names, (*size, channels),
                    extra={"validation": f"{held_out} ({len(x_test)} images, also the test set)",
                           "background": background(x_test) if len(x_test) else None})
    if args.data is None:
        raise UsageError("Say which data to use: --data NAME "
                         f"({', '.join(DATASETS)}) or --data-dir DIR.")
    if args.data not in DATASETS:
        raise UsageError(f"Unknown dataset {args.data!r}. Expected one of {', '.join(DATASETS)}, "
                         "or --data-dir DIR for a folder of images.")
    if args.data == "synthetic":
        size = tuple(input_shape[:2]) if input_shape else parse_size(args.image_size or "28")
        channels = input_shape[2] if input_shape else (args.channels or 1)
        (x, y), (xt, yt) = (synthetic(args.samples or 96, size, channels, 0),
                            synthetic(args.test_samples or 48, size, channels, 1))
        return hold_out(Data("synthetic", (x, one_hot(y, 3)), xt, one_hot(yt, 3),
                             SYNTHETIC_CLASSES, (*size, channels)),
                        getattr(args, "validation_split", None))
    if args.image_size:
        raise UsageError(f"--image-size applies to --data-dir and --data synthetic; {args.data} "
                         "images have a fixed size.")
    return hold_out(_named(args.data, args.samples, args.test_samples),
                    getattr(args, "validation_split", None))


def augmentation(args: Any) -> dict:
    """ImageDataGenerator arguments from the augmentation flags."""
    aug = {}
    for flag in ("rotation_range", "width_shift_range", "height_shift_range", "zoom_range"):
        if getattr(args, flag, None):
            aug[flag] = getattr(args, flag)
    if getattr(args, "horizontal_flip", False):
        aug["horizontal_flip"] = True
    if getattr(args, "augment", False):
        aug = {"rotation_range": 15, "width_shift_range": 0.1, "height_shift_range": 0.1,
               "zoom_range": 0.1, "horizontal_flip": True, **aug}
    return aug
