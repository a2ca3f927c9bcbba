"""Readers for the publishers' file formats: IDX (MNIST family) and CIFAR python batches.

IDX (http://yann.lecun.com/exdb/mnist/): a big-endian header `0x00 0x00 <type> <ndim>`, then
`ndim` uint32 sizes, then the raw values. MNIST images have magic 0x00000803 (uint8, 3 dims) and
labels 0x00000801 (uint8, 1 dim).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile

import numpy as np

# IDX type byte -> big-endian NumPy dtype.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (gzip-compressed if the name ends in `.gz`) into a native-endian array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    return parse_idx(data, name=str(path))


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parses IDX bytes; raises ValueError naming `name` if the header or size is wrong."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(
            f"{name} is not an IDX file: expected a header starting with bytes 00 00 <type> "
            f"<ndim> (e.g. 00 00 08 03 for MNIST images). Received: header={data[:4].hex(' ')!r}."
        )
    dtype, ndim = np.dtype(_IDX_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{name} is truncated or corrupted: its header announces {ndim} dimension(s), so the "
            f"header alone needs {header} bytes. Received: {len(data)} bytes. Delete it and "
            "download it again."
        )
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{name} is truncated or corrupted: its header announces shape {shape}, which needs "
            f"{expected} bytes. Received: {len(data)} bytes. Delete it and download it again."
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds what CIFAR batches contain: dicts, lists, bytes, uint8 arrays.

    NOTE: CIFAR's python version is distributed by its publishers as pickled dicts, so reading
    it needs pickle. We restrict the classes it may create so a tampered file cannot run code.
    kernelnet never uses pickle for anything else (models are saved as zip/JSON/npz).
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"Refusing to load {module}.{name} from a CIFAR batch file: only NumPy arrays, "
                "dicts and lists are expected. The file is not an original CIFAR batch."
            )
        if module.startswith("numpy.core"):  # files written by NumPy 1.x
            module = "numpy._core" + module[len("numpy.core"):]
        return super().find_class(module, name)


def parse_cifar_batch(data: bytes, label_key: str = "labels",
                      name: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Decodes one CIFAR python batch: `(x (n, 3, 32, 32) uint8, y (n,) uint8)`.

    Raises:
        ValueError: naming `name`, for anything but a batch as published: a pickle that is
            corrupt or creates other objects (nothing is ever run), missing keys, image data
            that is not n x 3072 bytes, labels that are not n integers in 0..255.
    """
    def bad(problem: str) -> ValueError:
        return ValueError(f"{name} is not a valid CIFAR batch file: {problem}. Delete it and "
                          "download the dataset again.")

    # The publishers' format: a pickled dict with bytes keys (written by Python 2).
    try:
        batch = _CifarUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, MemoryError, RecursionError) as err:
        raise bad(f"its pickle is corrupted or crafted ({type(err).__name__}: {err})") from err
    if not isinstance(batch, dict):
        raise bad(f"expected a pickled dict, found a {type(batch).__name__}")
    batch = {k.decode("utf8", "replace") if isinstance(k, bytes) else k: v
             for k, v in batch.items()}
    missing = [k for k in ("data", label_key) if k not in batch]
    if missing:
        raise bad(f"it has no {missing} entry (keys found: {sorted(map(str, batch))[:6]})")
    x, y = _cifar_array(batch["data"]), _cifar_array(batch[label_key])
    if x is None or x.ndim not in (1, 2) or x.size % 3072 or not _is_uint8(x):
        raise bad("'data' must hold uint8 images of 3072 bytes each (3 x 32 x 32)")
    if y is None or y.ndim != 1 or not _is_uint8(y):
        raise bad(f"{label_key!r} must be a list of integer class ids in 0..255")
    x = x.astype(np.uint8).reshape(-1, 3, 32, 32)
    if len(x) != len(y):
        raise bad(f"it holds {len(x)} images but {len(y)} labels")
    return x, y.astype(np.uint8)


def _cifar_array(value: object) -> np.ndarray | None:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return None
    return array if array.dtype.kind in "iu" else None


def _is_uint8(a: np.ndarray) -> bool:
    return a.size == 0 or (int(a.min()) >= 0 and int(a.max()) <= 255)


def read_cifar_members(source: str | os.PathLike, folder: str, members: list[str],
                       label_key: str = "labels") -> list[tuple[np.ndarray, np.ndarray]]:
    """Reads batch files `members` from an extracted `folder` or from a `.tar.gz` archive.

    `source` is either the extracted folder itself or the archive; inside the archive the
    batches sit under `folder/` (e.g. `cifar-10-batches-py/data_batch_1`).
    """
    source = os.fspath(source)
    if os.path.isdir(source):
        blobs = []
        for m in members:
            with open(os.path.join(source, m), "rb") as f:
                blobs.append(f.read())
        names = [repr(os.path.join(source, m)) for m in members]
    else:
        with tarfile.open(source, "r:*") as tar:  # read in memory; nothing is extracted
            blobs = []
            for m in members:
                try:
                    handle = tar.extractfile(f"{folder}/{m}")
                except KeyError:
                    handle = None
                if handle is None:
                    raise ValueError(
                        f"{source} has no file {folder}/{m}. Expected the archive published at "
                        "https://www.cs.toronto.edu/~kriz/cifar.html; delete it and download again."
                    )
                blobs.append(handle.read())
        names = [f"{folder}/{m} in {source!r}" for m in members]
    return [parse_cifar_batch(b, label_key, n) for b, n in zip(blobs, names)]
