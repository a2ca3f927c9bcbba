"""Shared CIFAR lookup: an extracted batches folder or the publisher's `.tar.gz`."""

from __future__ import annotations

import gzip
import tarfile
import zlib

import numpy as np

from kernelnet.datasets import _cache, _formats


def load(dataset: str, folder: str, archive: str, origin: str, sha256: str,
         members: list[str], label_key: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Returns the batches as `(x NHWC uint8, y (n, 1) uint8)` pairs, one per member.

    Raises:
        ValueError: the local archive is truncated or corrupted (names it; delete it).
    """
    home = _cache.datasets_dir()
    found = _cache.resolve(
        dataset,
        [home / folder, home / archive],
        download_to=home / archive,
        urls=[origin],
        sha256=sha256,
        expected=f"{archive} (as downloaded from {origin}) or its extracted `{folder}` folder",
    )
    try:
        batches = _formats.read_cifar_members(found, folder, members, label_key)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        if found.is_dir():
            raise
        said = " ".join(str(err).split())         # tarfile's message spans several lines
        raise ValueError(
            f"{str(found)!r} is not a readable {dataset} archive: it is truncated or corrupted "
            f"({type(err).__name__}: {said}). Expected the gzip-compressed tar archive published "
            f"at {origin}. Delete it so that it is downloaded again, or download it by hand."
        ) from err
    # The files store channels first, (n, 3, 32, 32); Keras returns channels last.
    return [(x.transpose(0, 2, 3, 1), y.reshape(-1, 1)) for x, y in batches]
