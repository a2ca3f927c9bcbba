"""Images/s of a 150x150 JPEG flow_from_directory pipeline with augmentation, 0 vs N workers.

Compares with how many images/s a small CNN trains, to show whether the model waits on data.

    python benchmarks/image_pipeline.py [--images 400] [--workers 2 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from PIL import Image

from kernelnet.preprocessing.image import ImageDataGenerator


def write_jpegs(root: str, count: int, rng: np.random.Generator) -> None:
    """`count` 150x150 JPEGs in two class folders; smooth noise so they compress like photos."""
    for c in ("cats", "dogs"):
        os.makedirs(os.path.join(root, c))
    for i in range(count):
        small = rng.integers(0, 256, (19, 19, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((150, 150), Image.Resampling.BICUBIC)
        img.save(os.path.join(root, ("cats", "dogs")[i % 2], f"{i:05d}.jpg"), quality=90)


def pipeline_rate(root: str, workers: int, epochs: int = 2) -> float:
    gen = ImageDataGenerator(rescale=1 / 255, rotation_range=40, width_shift_range=0.2,
                             height_shift_range=0.2, shear_range=0.2, zoom_range=0.2,
                             horizontal_flip=True, fill_mode="nearest")
    it = gen.flow_from_directory(root, target_size=(150, 150), batch_size=32,
                                 class_mode="binary", seed=0, workers=workers)
    start = time.perf_counter()
    seen = 0
    for _ in range(epochs):
        for i in range(len(it)):
            seen += len(it[i][0])
        it.on_epoch_end()
    it.close()
    return seen / (time.perf_counter() - start)


def training_rate(steps: int = 3) -> float | None:
    """Images/s of train_on_batch for a small 150x150 CNN, if kernelnet.models is available."""
    try:
        from kernelnet import layers, models

        model = models.Sequential([
            layers.Input((150, 150, 3)), layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(2), layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(1, activation="sigmoid")])
        model.compile("adam", "binary_crossentropy")
        x = np.random.default_rng(0).random((32, 150, 150, 3), dtype=np.float32)
        y = np.zeros(32, dtype=np.float32)
        model.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        return 32 * steps / (time.perf_counter() - start)
    except (ImportError, AttributeError) as err:
        print(f"(training speed not measured: {err})")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    args = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as root:
        write_jpegs(root, args.images, np.random.default_rng(0))
        for workers in [0, *args.workers]:
            rate = pipeline_rate(root, workers)
            print(f"workers={workers}: {rate:8.1f} images/s (decode + resize + augment)")
    train = training_rate()
    if train is not None:
        print(f"training (small CNN, batch 32): {train:8.1f} images/s")


if __name__ == "__main__":
    main()
