"""Shared CIFAR lookup: an extracted batches folder or the publisher's `.tar.gz`."""

from __future__ import annotations

import numpy as np

from kernelnet.datasets import _cache, _formats


def load(dataset: str, folder: str, archive: str, origin: str, sha256: str,
         members: list[str], label_key: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Returns the batches as `(x NHWC uint8, y (n, 1) uint8)` pairs, one per member."""
    home = _cache.datasets_dir()
    found = _cache.resolve(
        dataset,
        [home / folder, home / archive],
        download_to=home / archive,
        urls=[origin],
        sha256=sha256,
        expected=f"{archive} (as downloaded from {origin}) or its extracted `{folder}` folder",
    )
    batches = _formats.read_cifar_members(found, folder, members, label_key)
    # The files store channels first, (n, 3, 32, 32); Keras returns channels last.
    return [(x.transpose(0, 2, 3, 1), y.reshape(-1, 1)) for x, y in batches]
