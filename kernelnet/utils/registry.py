"""Name -> object lookup with Keras-style "did you mean" errors."""

from __future__ import annotations

import difflib
from typing import Any


def get_from_registry(identifier: Any, registry: dict, kind: str, instance_types: tuple = ()):
    """Resolves `identifier` (string, config dict, instance or callable) through `registry`.

    Strings are matched case-insensitively. Returns the registry value (class or function) for
    names, the identifier itself for instances/callables. Raises ValueError listing valid names.
    """
    if instance_types and isinstance(identifier, instance_types):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, registry, kind)
    if isinstance(identifier, str):
        key = identifier.lower()
        lowered = {k.lower(): v for k, v in registry.items()}
        if key in lowered:
            return lowered[key]
        names = sorted({k for k in registry if not k.startswith("_")})
        by_lower = {n.lower(): n for n in names}
        close = difflib.get_close_matches(key, list(by_lower), n=1)
        hint = f" Did you mean {by_lower[close[0]]!r}?" if close else ""
        listed = ", ".join(repr(n) for n in names)
        raise ValueError(f"Unknown {kind} {identifier!r}. Expected one of {listed}.{hint}")
    if callable(identifier):
        return identifier
    raise TypeError(
        f"Could not interpret {kind} identifier: expected a string, a dict or a callable. "
        f"Received: {identifier!r} of type {type(identifier).__name__}."
    )


def deserialize(config: Any, registry: dict, kind: str):
    """Builds an object from `{"class_name": ..., "config": {...}}` (the class's `from_config`
    when it has one, else its constructor)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Could not deserialize {kind}: expected a dict with 'class_name' and 'config' keys. "
            f"Received: {config!r}."
        )
    cls = get_from_registry(config["class_name"], registry, kind)
    inner = dict(config.get("config") or {})
    if hasattr(cls, "from_config"):
        return cls.from_config(inner)
    return cls(**inner) if callable(cls) else cls
