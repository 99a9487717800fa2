"""Lazy package attributes (PEP 562): a family package names its torch-backed objects without
importing torch until one of them is used, so run specs and the registry stay cheap to import."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``names[name]`` (a module path
    relative to ``package``, e.g. ``".loading"``) on first use of ``name`` and caches the object
    in the package.

    Raises (from the returned function)
    -----------------------------------
    AttributeError
        ``name`` is not one of ``names``.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


__all__ = ["lazy_getattr"]
