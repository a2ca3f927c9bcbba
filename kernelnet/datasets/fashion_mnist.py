"""Fashion-MNIST: 60,000 + 10,000 grayscale 28x28 images of 10 clothing categories."""

from __future__ import annotations

from kernelnet.datasets import _cache, mnist

ORIGINS = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
# SHA-256 of each archive as published by Zalando Research (also pinned by Keras and TFDS).
SHA256 = {
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def load_data():
    """Loads Fashion-MNIST as Keras does, from `$KERNELNET_HOME/datasets/fashion-mnist/`.

    The folder holds the publisher's four IDX `.gz` files; missing ones are downloaded.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes `(60000, 28, 28)`,
        `(60000,)`, `(10000, 28, 28)`, `(10000,)`. Label names are in `CLASS_NAMES`.
    """
    folder = _cache.datasets_dir() / "fashion-mnist"
    needed = [folder / name for name in mnist.IDX_FILES]
    for name in mnist.IDX_FILES:
        _cache.resolve(
            "Fashion-MNIST",
            [folder / name],
            download_to=folder / name,
            urls=[base + name for base in ORIGINS],
            sha256=SHA256[name],
            expected=f"the four IDX files {', '.join(mnist.IDX_FILES)} (a `fashion-mnist` "
            "subfolder)",
            also_tried=needed,
        )
    return mnist.load_idx_folder(folder)
