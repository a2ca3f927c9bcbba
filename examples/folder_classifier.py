"""Classify your own photos: a folder with one subfolder per class, read with
ImageDataGenerator.flow_from_directory and augmented on the fly (shifts, zoom, flips).

Without --data-dir it first draws a small folder of synthetic "photos" (circles, squares and
triangles in random colours, sizes and places) so the example runs anywhere.

    python examples/folder_classifier.py --data-dir ~/photos --image-size 64 --epochs 10
"""

import argparse
import pathlib

import numpy as np
from PIL import Image, ImageDraw

import kernelnet
from kernelnet import visualization as vis
from kernelnet.applications import SmallVGG
from kernelnet.preprocessing.image import ImageDataGenerator

SHAPES = ("circle", "square", "triangle")


def draw_shape(shape, rng, size=48):
    """One RGB picture of `shape` on a random background."""
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 120, 3)))
    r = rng.integers(size // 5, size // 3)
    cx, cy = rng.integers(r, size - r, 2)
    colour = tuple(int(v) for v in rng.integers(130, 256, 3))
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif shape == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return img


def make_photo_folder(folder, per_class=40, seed=0):
    """Writes folder/<shape>/<i>.png for each shape; returns the folder."""
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        (folder / shape).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            draw_shape(shape, rng).save(folder / shape / f"{i:03d}.png")
    return folder


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="one subfolder per class")
    parser.add_argument("--image-size", type=int, default=32,
                        help="images are resized to N x N")
    parser.add_argument("--epochs", type=int, default=10, help="passes over the data")
    parser.add_argument("--batch-size", type=int, default=16, help="images per step")
    parser.add_argument("--quick", action="store_true", help="few images, 1 epoch (CI)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="0 quiet, 1 progress bar, 2 one line per epoch")
    parser.add_argument("--out", default="runs/folder_classifier", help="output folder")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    kernelnet.utils.set_random_seed(0)
    data_dir = pathlib.Path(args.data_dir) if args.data_dir else make_photo_folder(
        out / "photos", per_class=8 if args.quick else 60)

    size = (args.image_size, args.image_size)
    train_gen = ImageDataGenerator(rescale=1 / 255, validation_split=0.25, rotation_range=10,
                                   width_shift_range=0.1, height_shift_range=0.1,
                                   zoom_range=0.1, horizontal_flip=True)
    val_gen = ImageDataGenerator(rescale=1 / 255, validation_split=0.25)
    train = train_gen.flow_from_directory(data_dir, target_size=size, batch_size=args.batch_size,
                                          subset="training", seed=0)
    val = val_gen.flow_from_directory(data_dir, target_size=size, batch_size=args.batch_size,
                                      subset="validation", shuffle=False)
    names = sorted(train.class_indices, key=train.class_indices.get)
    vis.plot_images(*train[0], class_names=names, path=out / "augmented_batch.png")

    model = SmallVGG(input_shape=(*size, 3), classes=train.num_classes,
                     blocks=((16, 1), (32, 1)) if args.quick else ((32, 2), (64, 2)))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, epochs=1 if args.quick else args.epochs, validation_data=val,
                        verbose=args.verbose)
    x_val, y_val = val[0]
    vis.plot_history(history, path=out / "history.png")
    vis.plot_predictions(x_val, model.predict(x_val, verbose=0), names, y_val,
                         path=out / "predictions.png")
    loss, accuracy = model.evaluate(val, verbose=0)
    print(f"Validation accuracy: {accuracy:.4f}")
    model.save(out / "folder_classifier.kn")
    print(f"Saved the model and pictures in {out}/")
    return accuracy


if __name__ == "__main__":
    main()
