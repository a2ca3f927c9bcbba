"""`image_dataset_from_directory`: Keras 3's entry point for folders of images, without tf.data.

It returns an `ImageDataset`, a finite, re-iterable sequence of `(images, labels)` batches that
`Model.fit` accepts like any Keras `Sequence`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from PIL import ImageOps

from kernelnet.preprocessing import _directory, _io, image

LABEL_MODES = {"int": "sparse", "categorical": "categorical", "binary": "binary", None: None}


class ImageDataset(_directory.DirectoryIterator):
    """Batches of float32 images in [0, 255] (not rescaled) and labels per `label_mode`.

    `for images, labels in dataset:` runs over one epoch (and reshuffles for the next), as a
    tf.data dataset does. Attributes: `class_names`, `file_paths`.
    """

    def __init__(self, directory, *, labels, label_mode, class_names, color_mode, batch_size,
                 image_size, shuffle, seed, validation_split, subset, interpolation,
                 follow_links, crop_to_aspect_ratio, pad_to_aspect_ratio, verbose, workers):
        self._explicit_labels = labels
        self.label_mode = label_mode
        self._pad = pad_to_aspect_ratio
        generator = image.ImageDataGenerator(validation_split=validation_split or 0.0)
        super().__init__(
            directory, generator, image_size, color_mode, class_names, LABEL_MODES[label_mode],
            batch_size, shuffle, seed, follow_links=follow_links, subset=subset,
            interpolation=interpolation, keep_aspect_ratio=crop_to_aspect_ratio,
            workers=workers, verbose=False, split_seed=seed)
        if verbose:
            total = len(self._all_files)
            print(f"Found {total} files belonging to {self.num_classes} classes.")
            if subset is not None:
                print(f"Using {self.samples} files for {subset}.")

    def _list_files(self, directory, classes, follow_links):
        if isinstance(self._explicit_labels, str):  # "inferred"
            names, files, labels = _directory.list_class_files(directory, classes, follow_links)
        else:
            files = _directory._files_under(os.fspath(directory), follow_links)
            if self._explicit_labels is None:
                labels = np.zeros(len(files), dtype=np.int32)
            else:
                labels = np.asarray(self._explicit_labels, dtype=np.int32)
                if len(labels) != len(files):
                    raise ValueError(
                        f"Expected as many labels as image files found in {directory!r} "
                        f"({len(files)}). Received: {len(labels)} labels."
                    )
            count = int(labels.max()) + 1 if len(labels) and self.label_mode else 0
            names = list(classes) if classes is not None else [str(i) for i in range(count)]
        self._all_files = files
        return names, files, labels

    @property
    def file_paths(self) -> list[str]:
        """Full paths of the files in batch order when `shuffle=False`."""
        return self.filepaths

    def _draw_params(self, count, rng):
        return None  # no augmentation

    def _read(self, j):
        if not self._pad:
            return super()._read(j)
        path = os.path.join(self.directory, self.filenames[j])
        img = _io.load_img(path, self.color_mode)
        size = (self.target_size[1], self.target_size[0])
        img = ImageOps.pad(img, size, _io.INTERPOLATIONS[self.interpolation])
        return _io.img_to_array(img)

    def _load_batch(self, index, params):
        batch = super()._load_batch(index, params)
        if self.label_mode == "binary":
            return batch[0], batch[1].reshape(-1, 1)
        return batch

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
        self.on_epoch_end()

    def take(self, count: int) -> list:
        """The first `count` batches of the current epoch (like `tf.data.Dataset.take`)."""
        return [self[i] for i in range(min(count, len(self)))]


def image_dataset_from_directory(
    directory: str | os.PathLike, labels: Any = "inferred", label_mode: str | None = "int",
    class_names: list[str] | None = None, color_mode: str = "rgb", batch_size: int = 32,
    image_size: tuple[int, int] = (256, 256), shuffle: bool = True, seed: int | None = None,
    validation_split: float | None = None, subset: str | None = None,
    interpolation: str = "bilinear", follow_links: bool = False,
    crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
    data_format: str | None = None, verbose: bool = True, *, workers: int | None = None,
) -> ImageDataset | tuple[ImageDataset, ImageDataset]:
    """Batches of images from `directory/<class>/<image>`, with Keras 3's arguments.

    Args:
        labels: "inferred" (from subfolders), None (images only), or a list of int labels for
            the image files sorted by path.
        label_mode: "int" (int32 `(n,)`), "categorical" (float32 one-hot), "binary" (float32
            `(n, 1)`), or None.
        image_size: `(height, width)` every image is resized to.
        validation_split, subset: fraction held out, and "training", "validation" or "both"
            (returns the pair). The split is stratified and never overlaps, seed or not.
        crop_to_aspect_ratio / pad_to_aspect_ratio: keep the aspect ratio by a centre crop, or
            by padding with black.
        workers: background threads decoding images (kernelnet addition; 0 = none).

    Returns:
        An `ImageDataset` (or a `(training, validation)` pair for `subset="both"`).

    Example:
        >>> train, val = image_dataset_from_directory(
        ...     "data", validation_split=0.2, subset="both", seed=1,
        ...     image_size=(180, 180))                                   # doctest: +SKIP
    """
    _io._check_data_format(data_format)
    _io.check_choice(label_mode, "label_mode", tuple(LABEL_MODES), "image_dataset_from_directory()")
    _io.check_choice(subset, "subset", (None, "training", "validation", "both"),
                     "image_dataset_from_directory()")
    if (subset is None) != (not validation_split):
        raise ValueError(
            "`subset` and `validation_split` of image_dataset_from_directory() go together: "
            f"set both or neither. Received: subset={subset!r}, "
            f"validation_split={validation_split!r}."
        )
    if labels is None:
        label_mode = None
    kwargs = dict(labels=labels, label_mode=label_mode, class_names=class_names,
                  color_mode=color_mode, batch_size=batch_size, image_size=image_size,
                  shuffle=shuffle, seed=seed, validation_split=validation_split,
                  interpolation=interpolation, follow_links=follow_links,
                  crop_to_aspect_ratio=crop_to_aspect_ratio,
                  pad_to_aspect_ratio=pad_to_aspect_ratio, verbose=verbose, workers=workers)
    if subset == "both":
        return (ImageDataset(directory, subset="training", **kwargs),
                ImageDataset(directory, subset="validation", **kwargs))
    return ImageDataset(directory, subset=subset, **kwargs)
