"""Where dataset files live, and how a missing one is downloaded.

Lookup is local-file-first: every loader lists the places a file may already be (under
`$KERNELNET_HOME/datasets`, default `~/.kernelnet/datasets`, then any copy shipped with the
package) and only downloads when none exists. A download streams into a temporary file in the
destination folder, is checked against the publisher's SHA-256, and is then renamed into place,
so an interrupted or corrupted transfer never leaves a file that later looks valid.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from kernelnet.utils._tqdm import tqdm_class

_CHUNK = 1 << 16
_TIMEOUT_S = 30

# Tests replace this with a fake opener; nothing else should touch it.
_urlopen = urllib.request.urlopen


def kernelnet_home() -> Path:
    """`$KERNELNET_HOME` if set, else `~/.kernelnet`."""
    return Path(os.environ.get("KERNELNET_HOME") or Path.home() / ".kernelnet").expanduser()


def datasets_dir() -> Path:
    """The folder dataset files are looked up in and downloaded to."""
    return kernelnet_home() / "datasets"


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: str | os.PathLike, sha256: str | None, verbose: bool = True) -> Path:
    """Downloads `url` to `dest` atomically, checking the SHA-256 when given.

    The bytes go to a hidden temporary file next to `dest`; only a complete file with the right
    checksum is renamed to `dest`. On any failure the temporary file is removed.

    Raises:
        ValueError: the checksum does not match (nothing is left on disk).
        urllib.error.URLError / OSError: the transfer failed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=_TIMEOUT_S) as response:
            total = response.headers.get("Content-Length") if response.headers else None
            with tqdm_class()(total=int(total) if total else None, unit="B", unit_scale=True,
                      desc=f"Downloading {dest.name}", disable=not verbose) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ValueError(
                f"The file downloaded from {url} is corrupted or has changed: expected SHA-256 "
                f"{sha256}. Received: sha256={digest.hexdigest()}. It was deleted; try again, or "
                f"download it by hand and place it at {dest}."
            )
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest


def _first_existing(candidates: Sequence[Path]) -> Path | None:
    return next((p for p in candidates if p.exists()), None)


def resolve(
    dataset: str,
    candidates: Sequence[Path],
    download_to: Path,
    urls: Sequence[str],
    sha256: str | None,
    expected: str,
    also_tried: Sequence[Path] = (),
) -> Path:
    """Returns the first existing candidate, else downloads to `download_to`.

    Args:
        dataset: human name for messages, e.g. "CIFAR-10".
        candidates: paths to try in order (files or folders).
        download_to: where a download is saved (usually also one of the candidates).
        urls: origins to try in order.
        sha256: expected checksum of the downloaded file.
        expected: what to place by hand, for the error message.
        also_tried: further paths to name in the error (files needed together with this one).

    Raises:
        FileNotFoundError: nothing local and every download failed; names every path tried.
    """
    found = _first_existing(candidates)
    if found is not None:
        return found
    errors = []
    for url in urls:
        try:
            return download(url, download_to, sha256)
        except (urllib.error.URLError, OSError) as err:
            errors.append(f"{url} ({getattr(err, 'reason', err)})")
    tried = "\n  ".join(str(p) for p in dict.fromkeys([*candidates, *also_tried]))
    raise FileNotFoundError(
        f"Could not find the {dataset} data and could not download it. Looked in:\n  {tried}\n"
        f"Download failed from: {'; '.join(errors)}.\n"
        f"Place {expected} in {datasets_dir()} (KERNELNET_HOME={kernelnet_home()}), "
        "or set the KERNELNET_HOME environment variable to a folder that has a `datasets` "
        "subfolder holding it."
    )
