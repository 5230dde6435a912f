"""Built-in components, one folder per config type name under receivers/, processors/,
exporters/ and extensions/.  Each folder's `factory.py` defines `FACTORY`; they are found here
by walking the folders, so adding a component touches nothing else."""

from __future__ import annotations

import importlib
import pkgutil

from ..pipeline.component import Factory
from ..pipeline.registry import Registry

__all__ = ["builtin_factories", "builtin_registry"]

_KIND_PACKAGES = ("receivers", "processors", "exporters", "extensions")


def builtin_factories() -> list[Factory]:
    factories = []
    for kind in _KIND_PACKAGES:
        pkg = importlib.import_module(f"{__name__}.{kind}")
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if not info.ispkg or info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{pkg.__name__}.{info.name}.factory")
            factories.append(module.FACTORY)
    return factories


def builtin_registry() -> Registry:
    return Registry(builtin_factories())
