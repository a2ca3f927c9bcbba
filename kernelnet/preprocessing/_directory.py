"""Listing a folder of class subfolders, splitting it, and finding unreadable images."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
from PIL import Image

from kernelnet import backend
from kernelnet.preprocessing import _io, _iterators
from kernelnet.utils import validation

CLASS_MODES = ("categorical", "binary", "sparse", "input", None)
WHITELIST = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _is_image(name: str) -> bool:
    return name.lower().endswith(WHITELIST)


def _files_under(folder: str, follow_links: bool) -> list[str]:
    """Image files under `folder` (recursively), sorted, as paths relative to `folder`."""
    found = []
    seen: set[tuple[int, int]] = set()  # (device, inode) of folders walked: no symlink loops
    for root, dirs, files in os.walk(folder, followlinks=follow_links):
        if follow_links:
            st = os.stat(root)
            if (st.st_dev, st.st_ino) in seen:
                dirs[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        rel_root = os.path.relpath(root, folder)
        found += [os.path.normpath(os.path.join(rel_root, f)) for f in sorted(files)
                  if _is_image(f)]
    return found


def _no_images_error(directory: str, subfolders: list[str],
                     unreadable: dict[str, str] | None = None) -> ValueError:
    """"Found no images in ..."; with `unreadable` ({path: reason}): none of them could be read."""
    exts = "/".join(WHITELIST[:5])
    example = os.path.join(directory, "cats", "001.jpg")
    hint = ""
    if unreadable:
        path, reason = next(iter(unreadable.items()))
        hint = (f" {len(unreadable)} image file(s) were found but none is readable, e.g. "
                f"{path!r} ({reason}). Replace or remove the broken files.")
    elif os.path.isdir(directory) and any(_is_image(f) for f in os.listdir(directory)):
        hint = (" Images were found directly in the folder: move them into class subfolders, "
                "or (to predict on them) put the folder inside a parent folder and pass the "
                "parent with class_mode=None.")
    readable = "readable " if unreadable else ""
    return ValueError(
        f"Found no {readable}images in {directory!r}. Expected one subfolder per class "
        f"containing {exts} files, e.g. {example}. Subfolders found: {subfolders}.{hint}"
    )


def list_class_files(
    directory: str | os.PathLike, classes: Sequence[str] | None = None, follow_links: bool = False
) -> tuple[list[str], list[str], np.ndarray]:
    """Lists `directory/<class>/**/<image>`.

    Returns:
        `(class_names, filenames, labels)`: sorted class names (or `classes` in the given
        order), file paths relative to `directory` grouped by class, and int32 class ids.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Image directory {directory!r} does not exist (working directory: {os.getcwd()}). "
            "Expected a folder with one subfolder per class."
        )
    subfolders = sorted(d for d in os.listdir(directory)
                        if os.path.isdir(os.path.join(directory, d)))
    if classes is None:
        class_names = subfolders
    else:
        class_names = list(classes)
        missing = [c for c in class_names if c not in subfolders]
        if missing:
            raise ValueError(
                f"The `classes` {missing} have no subfolder in {directory!r}. Expected names "
                f"among the subfolders found: {subfolders}. Received: classes={class_names!r}."
            )
    filenames, labels = [], []
    for i, name in enumerate(class_names):
        files = _files_under(os.path.join(directory, name), follow_links)
        filenames += [os.path.join(name, f) for f in files]
        labels += [i] * len(files)
    if not filenames:
        raise _no_images_error(directory, subfolders)
    return class_names, filenames, np.asarray(labels, dtype=np.int32)


def split_indices(filenames: Sequence[str], labels: np.ndarray, validation_split: float,
                  subset: str | None, seed: int | None = None) -> np.ndarray:
    """Indices of `subset` ("training"/"validation"/None) for a stratified pseudo-random split.

    Within each class, files are ordered by a hash of `(seed, filename)` and the first
    `int(validation_split * n_class)` go to validation. The split depends only on the file
    names and `seed`, so the training and validation iterators, made by separate calls (even
    with different shuffle seeds or generators), never overlap.
    """
    if subset is None or not validation_split:
        return np.arange(len(filenames))
    keys = np.array([hashlib.sha256(f"{seed}:{f}".encode()).hexdigest() for f in filenames])
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[np.argsort(keys[members], kind="stable")]
        n_val = int(validation_split * len(members))
        chosen.append(members[:n_val] if subset == "validation" else members[n_val:])
    return np.sort(np.concatenate(chosen))


def _check_one(path: str) -> str | None:
    """None if Pillow can identify and verify the file, else a short reason."""
    try:
        with Image.open(path) as img:
            img.verify()
        return None
    except Exception as err:  # Pillow raises many types for bad files
        return f"{type(err).__name__}: {err}"


def find_unreadable(paths: Sequence[str], executor: Executor | None) -> dict[str, str]:
    """Maps each file Pillow cannot open or verify to the reason (checked in threads)."""
    results = executor.map(_check_one, paths) if executor else map(_check_one, paths)
    return {p: r for p, r in zip(paths, results) if r is not None}


def report_unreadable(bad: dict[str, str], strict: bool, directory: str) -> None:
    """One warning listing every bad file, or a ValueError when `strict`."""
    if not bad:
        return
    if strict:
        path, reason = next(iter(bad.items()))
        raise ValueError(
            f"Cannot read image {path!r} ({reason}). {len(bad)} unreadable file(s) in "
            f"{directory!r}. Remove them, or pass strict=False to skip them with a warning."
        )
    listing = "\n  ".join(f"{p} ({r})" for p, r in bad.items())
    warnings.warn(
        f"Skipping {len(bad)} unreadable image file(s) in {directory!r}:\n  {listing}",
        stacklevel=4,
    )


class DirectoryIterator(_iterators.Iterator):
    """Batches of images read from `directory/<class>/...`, made by `flow_from_directory`.

    Attributes (as in Keras): `filenames` (relative to `directory`, aligned with `classes`),
    `filepaths`, `classes` (int class id per file), `class_indices` (`{name: id}`), `samples`,
    `num_classes`, `image_shape`. Unreadable files are dropped up front with one warning.
    """

    def __init__(self, directory, image_data_generator, target_size=(256, 256),
                 color_mode="rgb", classes=None, class_mode="categorical", batch_size=32,
                 shuffle=True, seed=None, data_format=None, save_to_dir=None, save_prefix="",
                 save_format="png", follow_links=False, subset=None, interpolation="nearest",
                 keep_aspect_ratio=False, *, workers=None, strict=False, verbose=True,
                 split_seed=None):
        who = "flow_from_directory()"
        _io.check_choice(color_mode, "color_mode", tuple(_io.CHANNELS), who)
        _io.check_choice(class_mode, "class_mode", CLASS_MODES, who)
        _io.check_choice(interpolation, "interpolation", tuple(_io.INTERPOLATIONS), who)
        _io.check_choice(subset, "subset", (None, "training", "validation"), who)
        _io._check_data_format(data_format)
        self.directory = os.fspath(directory)
        self.target_size = validation.standardize_tuple(target_size, 2, "target_size", who)
        self.color_mode, self.class_mode, self.subset = color_mode, class_mode, subset
        self.interpolation, self.keep_aspect_ratio = interpolation, keep_aspect_ratio
        self.image_shape = (*self.target_size, _io.CHANNELS[color_mode])
        self.image_data_generator = image_data_generator
        self._saving = (save_to_dir, save_prefix, save_format)
        names, files, labels = self._list_files(self.directory, classes, follow_links)
        if class_mode == "binary" and len(names) != 2:
            raise ValueError(
                f"class_mode='binary' needs exactly 2 classes, but {self.directory!r} has "
                f"{len(names)}: {names}. Use class_mode='categorical' (softmax) or 'sparse'."
            )
        split = getattr(image_data_generator, "_validation_split", 0.0)
        if subset is not None and not split:
            raise ValueError(
                f"subset={subset!r} needs a validation split. Expected "
                "ImageDataGenerator(validation_split=...) with a value in (0, 1). Received: "
                "validation_split=0.0."
            )
        super().__init__(len(files), batch_size, shuffle, seed, workers)
        # Unreadable files are dropped before splitting, so the split stays stratified.
        bad = find_unreadable([os.path.join(self.directory, f) for f in files], self._pool())
        if files and len(bad) == len(files):
            raise _no_images_error(self.directory, names, bad)
        report_unreadable(bad, strict, self.directory)
        good = [k for k, f in enumerate(files) if os.path.join(self.directory, f) not in bad]
        files, labels = [files[k] for k in good], labels[good]
        keep = split_indices(files, labels, split, subset, split_seed)
        self.filenames = [files[k] for k in keep]
        self.classes = labels[keep]
        self.class_indices = {name: i for i, name in enumerate(names)}
        self.num_classes = len(names)
        self.strict = strict
        self.n = self.samples = len(self.filenames)
        self._order = self._epoch_order()
        if verbose:
            print(f"Found {self.samples} images belonging to {self.num_classes} classes.")

    def _list_files(self, directory, classes, follow_links):
        """`(class_names, filenames, labels)`; subclasses may list files differently."""
        return list_class_files(directory, classes, follow_links)

    @property
    def filepaths(self) -> list[str]:
        """Full paths of the files, aligned with `filenames`."""
        return [os.path.join(self.directory, f) for f in self.filenames]

    @property
    def labels(self) -> np.ndarray:
        """Alias of `classes` (Keras)."""
        return self.classes

    @property
    def class_names(self) -> list[str]:
        """Class names ordered by class id."""
        return sorted(self.class_indices, key=self.class_indices.get)

    def _draw_params(self, count, rng):
        if self.subset == "validation" or self.image_data_generator is None:
            return None  # validation data is never augmented
        return [self.image_data_generator.random_params(self.image_shape, rng)
                for _ in range(count)]

    def _read(self, j: int) -> np.ndarray:
        path = os.path.join(self.directory, self.filenames[j])
        try:
            img = _io.load_img(path, self.color_mode, self.target_size, self.interpolation,
                               self.keep_aspect_ratio)
        except Exception as err:  # passed the upfront check but failed to decode
            if self.strict:
                raise ValueError(f"Cannot decode image {path!r}: {err}") from err
            self._record_failure(path, err)
            return np.zeros(self.image_shape, dtype=backend.floatx())
        return _io.img_to_array(img)

    def _load_batch(self, index, params):
        gen = self.image_data_generator
        batch_x = np.empty((len(index), *self.image_shape), dtype=backend.floatx())
        for k, j in enumerate(index):
            x = self._read(j)
            if gen is not None and params is not None:
                x = gen.apply_transform(x, params[k])
            batch_x[k] = x if gen is None else gen.standardize(x)
        y = _iterators.class_labels(self.class_mode, self.classes[index], self.num_classes,
                                    batch_x)
        return batch_x if y is None else (batch_x, y)

    def labelled_predictions(self, predictions) -> list[tuple[str, str, float]]:
        """Pairs `model.predict(iterator)` output with files: `(filename, class, probability)`.

        Needs `shuffle=False`, so the i-th prediction belongs to `filenames[i]`. A single sigmoid
        output (binary) picks class 1 when p > 0.5; otherwise the argmax is used.

        Example:
            >>> it = datagen.flow_from_directory("data/test", shuffle=False)  # doctest: +SKIP
            >>> it.labelled_predictions(model.predict(it))[0]                 # doctest: +SKIP
            ('cats/001.jpg', 'cats', 0.97)
        """
        if self.shuffle:
            raise ValueError(
                "labelled_predictions() needs an iterator made with shuffle=False; otherwise "
                "the predictions are not in the order of `filenames`. Received: shuffle=True."
            )
        p = np.asarray(predictions, dtype=np.float64)
        p = p.reshape(len(p), -1)
        if len(p) != self.samples:
            raise ValueError(
                f"Expected one prediction per file ({self.samples}). Received: "
                f"{len(p)} predictions. Predict over all {len(self)} batches."
            )
        if p.shape[1] == 1:
            ids = (p[:, 0] > 0.5).astype(int)
            probs = np.where(ids == 1, p[:, 0], 1 - p[:, 0])
        else:
            ids, probs = p.argmax(axis=1), p.max(axis=1)
        names = self.class_names
        return [(f, names[c], float(q)) for f, c, q in zip(self.filenames, ids, probs)]
