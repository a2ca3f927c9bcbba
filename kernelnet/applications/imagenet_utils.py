"""ImageNet helpers shared by the applications, as Keras' `imagenet_utils`.

`preprocess_input` (caffe/tf/torch modes), `decode_predictions`, input-shape checks, and
`get_file`: files Keras publishes (pretrained weights, the ImageNet class index) are looked up
under `$KERNELNET_HOME/models` (default `~/.kernelnet/models`) with Keras' file names, and
downloaded from Keras' URLs, checked against Keras' MD5 hashes, when they are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array

CLASS_INDEX_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
)
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
_CLASS_INDEX: dict | None = None


def models_dir() -> Path:
    """`$KERNELNET_HOME/models`: where pretrained weights and the class index are kept."""
    from kernelnet.datasets import _cache

    return _cache.kernelnet_home() / "models"


def _md5(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - Keras publishes MD5 hashes; used as a checksum only
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def get_file(file_name: str, url: str, md5: str | None) -> Path:
    """Returns `$KERNELNET_HOME/models/file_name`, downloading it from `url` when missing.

    A file already there is used as is; a download is checked against `md5` and deleted on
    mismatch. Offline, the error says where to put the file by hand.
    """
    from kernelnet.datasets import _cache

    path = models_dir() / file_name
    if path.is_file():
        return path
    try:
        _cache.download(url, path, sha256=None)
    except (urllib.error.URLError, OSError) as err:
        raise FileNotFoundError(
            f"Could not find {file_name} in {models_dir()} and could not download it from {url} "
            f"({getattr(err, 'reason', err)}). Download it by hand and place it at {path} "
            "(or set KERNELNET_HOME to a folder whose `models` subfolder holds it)."
        ) from err
    if md5 is not None and _md5(path) != md5:
        path.unlink()
        raise ValueError(
            f"The file downloaded from {url} is corrupted or has changed: expected MD5 {md5}. "
            f"It was deleted; try again, or place a good copy at {path}."
        )
    return path


def preprocess_input(x: Any, data_format: str | None = None, mode: str = "caffe") -> Array:
    """Preprocesses a batch of RGB images with values in [0, 255], as Keras does.

    Modes: "caffe" (RGB->BGR, then subtract the ImageNet channel means, no scaling; ResNet50 and
    VGG16), "tf" (scale to [-1, 1]), "torch" (scale to [0, 1], then normalize with the ImageNet
    mean and std). A float array is modified in place where possible, as in Keras.
    """
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError(
            f"Expected mode to be one of 'caffe', 'tf' or 'torch'. Received: mode={mode!r}."
        )
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"kernelnet images are channels-last. Received: data_format={data_format!r}."
        )
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(backend.floatx())
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        x -= np.array([0.485, 0.456, 0.406], dtype=x.dtype)
        x /= np.array([0.229, 0.224, 0.225], dtype=x.dtype)
        return x
    x = x[..., ::-1]                                             # RGB -> BGR (a view)
    x -= np.array([103.939, 116.779, 123.68], dtype=x.dtype)     # BGR means
    return x


def _class_index() -> dict:
    global _CLASS_INDEX
    if _CLASS_INDEX is None:
        path = get_file("imagenet_class_index.json", CLASS_INDEX_URL, CLASS_INDEX_MD5)
        with open(path, encoding="utf8") as f:
            _CLASS_INDEX = json.load(f)
    return _CLASS_INDEX


def decode_predictions(preds: Any, top: int = 5) -> list[list[tuple]]:
    """The `top` classes of each ImageNet prediction as `(class_id, name, score)` tuples.

    Needs `imagenet_class_index.json` (Keras' file), downloaded to `$KERNELNET_HOME/models` on
    first use; offline, place it there by hand.
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(
            "`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
            f"(samples, 1000)). Received array with shape: {tuple(preds.shape)}."
        )
    index = _class_index()
    results = []
    for pred in preds:
        top_indices = pred.argsort()[-top:][::-1]
        result = [(*index[str(i)], pred[i]) for i in top_indices]
        result.sort(key=lambda item: item[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape: Any, default_size: int, min_size: int,
                       require_flatten: bool, weights: Any) -> tuple:
    """Checks or fills in a channels-last `(height, width, channels)` input shape, as Keras."""
    if weights == "imagenet" and require_flatten:
        default = (default_size, default_size, 3)
        if input_shape is not None and tuple(input_shape) != default:
            raise ValueError(
                "When setting `include_top=True` and loading `imagenet` weights, `input_shape` "
                f"should be {default}. Received: input_shape={input_shape}."
            )
        return default
    if input_shape is None:
        return (default_size, default_size, 3) if require_flatten else (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be a tuple of three integers. Received: input_shape={input_shape}."
        )
    if weights == "imagenet" and input_shape[-1] != 3:
        raise ValueError(f"The input must have 3 channels. Received: input_shape={input_shape}.")
    if any(d is not None and d < min_size for d in input_shape[:2]):
        raise ValueError(
            f"Input size must be at least {min_size}x{min_size}. Received: "
            f"input_shape={input_shape}."
        )
    if require_flatten and None in input_shape:
        raise ValueError(
            "If `include_top` is True, you should specify a static `input_shape`. Received: "
            f"input_shape={input_shape}."
        )
    return input_shape


def check_weights_argument(weights: Any, include_top: bool, classes: int,
                           classifier_activation: Any) -> None:
    """Keras' checks of `weights`, `classes` and `classifier_activation`."""
    if not (weights in ("imagenet", None) or os.path.isfile(str(weights))):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), 'imagenet' "
            "(pre-training on ImageNet), or the path to the weights file to be loaded. "
            f"Received: weights={weights!r}."
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            "If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000. "
            f"Received: classes={classes}."
        )
    if weights is not None and include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            "Only `None` and `softmax` activations are allowed for the `classifier_activation` "
            f"argument when using pretrained weights. Received: {classifier_activation!r}."
        )


def correct_pad(inputs: Any, kernel_size: Any) -> tuple:
    """Zero padding `((top, bottom), (left, right))` before a strided "valid" convolution
    that makes it cover the image as TF's "same" would (Keras' `correct_pad`)."""
    size = tuple(inputs.shape[1:3])
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    return ((k[0] // 2 - adjust[0], k[0] // 2), (k[1] // 2 - adjust[1], k[1] // 2))


def image_input(input_tensor: Any, input_shape: tuple) -> Any:
    """`Input(shape=input_shape)`, or `input_tensor` when given."""
    from kernelnet.layers import Input

    return Input(shape=input_shape) if input_tensor is None else input_tensor


def load_pretrained(model: Any, weights: Any, file_name: str, url: str, md5: str) -> None:
    """Loads `imagenet` weights (Keras' file, by layer name) or a weights file path."""
    if weights == "imagenet":
        from kernelnet import keras_io

        keras_io.load_keras_weights(model, get_file(file_name, url, md5))
    elif weights is not None:
        model.load_weights(weights)
