"""Turning names that may come from files (layer names, log values) into safe file-name parts.

A model file is untrusted input: a layer called `"/../../../any/dir/pwn"` must not make
`kernelnet inspect` write `/any/dir/pwn.png`. Everything that builds a path from such a name
goes through `safe_filename`, which keeps letters, digits, `.`, `-`, `_` and replaces the rest.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_filename(name: object, max_length: int = 100) -> str:
    """`name` as one path component: no separators, no leading dot, at most `max_length` chars.

    Example:
        >>> safe_filename("/../../etc/pwn")
        '_.._.._etc_pwn'
        >>> safe_filename("conv2d_1")
        'conv2d_1'
    """
    text = _UNSAFE.sub("_", str(name))[:max_length]
    if text.startswith("."):        # "..", ".hidden": never a parent folder or a hidden file
        text = "_" + text[1:]
    return text or "_"


def unique_filenames(names: list[str]) -> list[str]:
    """`safe_filename` of each name, suffixed `_2`, `_3`, ... where two would collide."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = candidate = safe_filename(name)
        n = 1
        while candidate in seen:
            n += 1
            candidate = f"{base}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out
