"""`kernelnet evaluate | predict | summary | inspect`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from kernelnet._typing import Array
from kernelnet.cli import _data, _models
from kernelnet.cli._data import UsageError
from kernelnet.utils.paths import unique_filenames

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _run_info(model_path: str) -> dict:
    """run.json written next to the model by `kernelnet train`, if any."""
    run_file = Path(model_path).parent / "run.json"
    return json.loads(run_file.read_text()) if run_file.is_file() else {}


def evaluate(args: argparse.Namespace) -> int:
    model = _models.load(args.model)
    _models.ensure_compiled(model)
    if not (args.data or args.data_dir):
        args.data = _run_info(args.model).get("data")
        if args.data not in _data.DATASETS:
            raise UsageError("evaluate needs --data NAME or --data-dir DIR.")
    args.seed, args.image_size, args.channels, args.samples = None, None, None, None
    data = _data.load(args, _models.image_shape(model))
    if args.data_dir:  # the whole folder: join the two parts
        x, y = _data.collect(data.train)
        x, y = np.concatenate([x, data.x_test]), np.concatenate([y, data.y_test])
    else:
        x, y = data.x_test, data.y_test
    logs = model.evaluate(x, y, batch_size=args.batch_size, verbose=args.verbose,
                          return_dict=True)
    print(f"{len(x)} samples  " + "  ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
    return 0


def image_files(paths: list[str]) -> list[Path]:
    """Image files among `paths`, folders searched recursively in sorted order."""
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"No such file or folder: {text!r}.")
    if not files:
        raise UsageError(f"No image files ({'/'.join(IMAGE_EXTENSIONS[:4])}...) found in "
                         f"{paths}.")
    return files


def load_images(files: list[Path], shape: tuple[int, int, int]) -> Array:
    """Images resized to the model's `(h, w, c)` and scaled to [0, 1], as `train` does."""
    from kernelnet.preprocessing import image

    color = {1: "grayscale", 3: "rgb", 4: "rgba"}.get(shape[2])
    if color is None:
        raise UsageError(f"The model takes {shape[2]}-channel inputs; images have 1, 3 or 4.")
    out = np.empty((len(files), *shape), dtype="float32")
    for i, f in enumerate(files):
        try:
            img = image.load_img(f, color_mode=color, target_size=shape[:2])
        except OSError as err:
            raise UsageError(f"Could not read image {str(f)!r}: {err}") from err
        out[i] = image.img_to_array(img) / 255
    return out


def _predict_batches(model: Any, x: Array, batch_size: int, verbose: int) -> Array:
    from kernelnet.utils._tqdm import tqdm_class

    tqdm = tqdm_class()

    starts = range(0, len(x), batch_size)
    bar = tqdm(starts, desc="predict", unit="batch", disable=not verbose or len(starts) < 2)
    return np.concatenate([model.predict(x[s:s + batch_size], verbose=0) for s in bar])


def warn_polarity(files: list[Path], x: Array, info: dict) -> None:
    """Warns on stderr about images whose background is light where the training images'
    was dark, or the other way round (a black-on-white digit given to an MNIST model)."""
    trained = info.get("background")
    if trained is None and info.get("data") in ("mnist", "fashion_mnist"):
        trained = 0.0                      # runs written before run.json recorded it
    if trained is None:
        return
    import sys

    def shade(v: float) -> str:
        return "light" if v > 0.5 else "dark"

    for f, img in zip(files, x):
        own = _data.background(img[np.newaxis])
        if shade(own) != shade(trained) and abs(own - trained) > 0.25:
            hint = " (MNIST digits are white on black)" if info.get("data") == "mnist" else ""
            print(f"kernelnet: warning: {f} has a {shade(own)} background ({own:.2f}) but the "
                  f"model was trained on images with a {shade(trained)} one ({trained:.2f})"
                  f"{hint}; invert it to match, e.g. PIL.ImageOps.invert.", file=sys.stderr)


def predict(args: argparse.Namespace) -> int:
    model = _models.load(args.model, compile=False)
    files = image_files(args.paths)
    info = _run_info(args.model)
    x = load_images(files, _models.image_shape(model))
    warn_polarity(files, x, info)
    probs = _predict_batches(model, x, args.batch_size, args.verbose)
    names = info.get("class_names") or [str(i) for i in range(probs.shape[1])]
    top_k = min(args.top_k, probs.shape[1])
    results = []
    for f, p in zip(files, probs):
        top = np.argsort(p)[::-1][:top_k]
        results.append({"file": str(f), "predictions": [
            {"class": names[j], "index": int(j), "probability": float(p[j])} for j in top]})
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    width = max(len(r["file"]) for r in results)
    for r in results:
        cells = "  ".join(f"{q['class']} {q['probability']:.3f}" for q in r["predictions"])
        print(f"{r['file']:<{width}}  {cells}")
    return 0


def summary(args: argparse.Namespace) -> int:
    shape = tuple(args.input_shape) if args.input_shape else None
    model = _models.model_or_arch(args.target, shape, args.classes)
    model.summary()
    return 0


def inspect(args: argparse.Namespace) -> int:
    from kernelnet.utils._tqdm import tqdm_class

    tqdm = tqdm_class()

    from kernelnet import visualization as vis

    model = _models.load(args.model, compile=False)
    shape = _models.image_shape(model)
    files = image_files([args.image])
    x = load_images(files, shape)[0]
    info = _run_info(args.model)
    warn_polarity(files, x[np.newaxis], info)
    names = info.get("class_names")
    out = Path(args.out)
    convs = vis.conv_layers(model)
    if not convs:
        raise UsageError(f"Model {model.name!r} has no Conv2D layer to inspect.")
    # Layer names come from the file: never let one become a path (see utils.paths).
    stems = unique_filenames([layer.name for layer in convs])
    for layer, stem in tqdm(list(zip(convs, stems)), desc="inspect", unit="layer",
                            disable=not args.verbose):
        vis.plot_kernels(layer, path=out / f"kernels_{stem}.png")
        vis.plot_feature_maps(model, x, layer.name, path=out / f"feature_maps_{stem}.png")
    vis.plot_grad_cam(model, x, class_names=names, path=out / "grad_cam.png")
    probs = model.predict(x[np.newaxis], verbose=0)[0]
    best = int(np.argmax(probs))
    label = names[best] if names else str(best)
    print(f"Predicted {label} ({probs[best]:.3f}). Wrote kernels, feature maps of "
          f"{len(convs)} conv layers and grad_cam.png to {out}/")
    return 0
