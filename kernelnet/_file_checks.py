"""Reading untrusted model files within limits: member sizes, array headers, declared weights.

A model file can lie: a 1 MiB zip whose `config.json` inflates to 1 GiB, an npz member that is
a deflate bomb, a config declaring `Dense(units=3e9)`, arrays of complex numbers or strings.
Everything here checks what a file declares *before* allocating for it:

- `read_member`: a zip member, refused when larger than a cap or inflating more than a deflate
  stream of real weights ever does (`MAX_RATIO`).
- `read_npz`: arrays of an npz, header by header (`allow_pickle` never), real numbers only.
- `load_json`: JSON with a clear error for nesting too deep to parse.
- `weight_budget`: while a file's config is rebuilt, `Layer.add_weight` may only create as many
  values as the file holds (`check_weight`), so a lying config fails before allocating.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import math
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np

MAX_CONFIG_BYTES = 16 * 2**20   # config.json / training_state.json (ResNet50's is ~0.2 MiB)
MAX_RATIO = 200                 # inflated/compressed; float weights deflate ~1.1x, at most ~1000x
RATIO_SLACK = 16 * 2**20        # small members of zeros may compress better than MAX_RATIO


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def check_member(info: zipfile.ZipInfo, where: str, limit: int | None = None) -> None:
    """Refuses a zip member whose declared size is over `limit` or looks like a zip bomb."""
    if limit is not None and info.file_size > limit:
        raise ValueError(
            f"{info.filename!r} in {where} is {_mib(info.file_size)} when inflated; kernelnet "
            f"reads at most {_mib(limit)} for it. The file is corrupted or crafted."
        )
    inflated, packed = info.file_size, info.compress_size
    if info.compress_type != zipfile.ZIP_STORED and inflated > MAX_RATIO * packed + RATIO_SLACK:
        raise ValueError(
            f"{info.filename!r} in {where} inflates from {_mib(packed)} to {_mib(inflated)} "
            f"(ratio {inflated / max(packed, 1):,.0f}), far more than any model data "
            f"compresses (at most {MAX_RATIO}). Refusing a probable zip bomb."
        )


def read_member(zf: zipfile.ZipFile, name: str, where: str, limit: int | None = None) -> bytes:
    """The bytes of member `name` (KeyError if absent), after `check_member`.

    zipfile stops reading at the declared size, so a member cannot deliver more than checked.
    """
    info = zf.getinfo(name)
    check_member(info, where, limit)
    with zf.open(info) as f:
        return f.read()


def load_json(blob: bytes, what: str, where: str) -> Any:
    """`json.loads`, with a ValueError naming the file for nesting too deep to parse."""
    try:
        return json.loads(blob)
    except RecursionError:
        raise ValueError(
            f"The {what} in {where} is nested too deeply to read (thousands of levels); no "
            "saved model has that. The file is corrupted or crafted."
        ) from None


def check_array_dtype(dtype: np.dtype, name: str, what: str, where: str) -> None:
    """Refuses arrays that are not real numbers: objects, complex, strings, records, bools."""
    if dtype.hasobject:
        raise ValueError(
            f"Could not read the {what} in {where}: array {name!r} holds pickled objects, "
            "which kernelnet never loads."
        )
    if dtype.kind not in "fiu" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(
            f"The {what} in {where} holds array {name!r} of dtype {str(dtype)!r}. Expected "
            "real numbers (float or integer); kernelnet does not cast complex, boolean, "
            "string or structured arrays into weights."
        )


def read_npz(blob: bytes, what: str, where: str) -> dict[str, np.ndarray]:
    """The arrays of an npz (as `np.load(allow_pickle=False)`), each checked before it is read:
    member sizes (`check_member`), the `.npy` header's dtype and that its data fits the member."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            return {_key(info.filename): _read_npy(zf, info, what, where)
                    for info in zf.infolist()}
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(
            f"Could not read the {what} in {where}: the data is corrupted or truncated. ({err})"
        ) from err


def _key(member: str) -> str:
    return member[:-4] if member.endswith(".npy") else member


def _read_npy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, where: str) -> np.ndarray:
    check_member(info, where)
    name = _key(info.filename)
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy format version {version}")
            shape, fortran, dtype = read_header(f)
        except ValueError as err:
            raise ValueError(f"Could not read the {what} in {where}: array {name!r} has no "
                             f"valid .npy header ({err}).") from err
        check_array_dtype(dtype, name, what, where)
        nbytes = math.prod(shape) * dtype.itemsize
        data = f.read(nbytes) if nbytes <= info.file_size else b""
        if len(data) != nbytes or f.read(1):             # reading to the end checks the CRC
            raise ValueError(
                f"Could not read the {what} in {where}: array {name!r} declares shape "
                f"{tuple(shape)} ({nbytes:,} bytes) but its member holds {info.file_size:,} "
                "bytes. The file is corrupted or truncated."
            )
    array = np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")
    return np.array(array, dtype=dtype.newbyteorder("="), order="C")   # owned, writable


# ------------------------------------------------------------------ declared weight sizes
_BUDGET: contextvars.ContextVar[list | None] = contextvars.ContextVar("weight_budget",
                                                                      default=None)


@contextlib.contextmanager
def weight_budget(values: int) -> Iterator[None]:
    """While active (in this thread), layers may create at most `values` weight values in all:
    the number the file being loaded holds."""
    token = _BUDGET.set([int(values), 0])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def check_weight(layer: Any, name: str, shape: tuple) -> None:
    """Called by `Layer.add_weight` before allocating; a no-op outside `weight_budget`."""
    budget = _BUDGET.get()
    if budget is None:
        return
    count = math.prod(int(d) for d in shape)
    budget[1] += count
    if budget[1] > budget[0]:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) declares weight {name!r} of shape "
            f"{tuple(int(d) for d in shape)} ({count:,} values), but the file holds only "
            f"{budget[0]:,} weight values in all. Its config does not match its weights: the "
            "file is corrupted or crafted."
        )


def check_layer_dtypes(model: Any, where: str) -> None:
    """Refuses layers computing in non-float dtypes (int8, bool, complex...) from a file."""
    for layer in [model, *_all_layers(model)]:
        dtype = getattr(layer, "dtype", None)
        if dtype is not None and np.dtype(dtype).kind != "f":
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) in {where} has dtype "
                f"{str(dtype)!r}. Expected a float dtype ('float16', 'float32' or 'float64'); "
                "kernelnet layers compute in floating point."
            )


def _all_layers(model: Any) -> list:
    out = []
    for layer in getattr(model, "layers", []):
        out.append(layer)
        out.extend(_all_layers(layer) if hasattr(layer, "layers") else [])
    return out
