"""Factories by kind and type name, including the upstream aliases (`otlp` for `otlp_grpc`)."""

from __future__ import annotations

from .component import Factory, Kind

__all__ = ["Registry"]


class Registry:
    def __init__(self, factories: list[Factory] | None = None):
        self._by_kind: dict[Kind, dict[str, Factory]] = {k: {} for k in Kind}
        for f in factories or ():
            self.register(f)

    def register(self, factory: Factory) -> None:
        table = self._by_kind[factory.kind]
        for name in (factory.type, *factory.aliases):
            if name in table and table[name] is not factory:
                raise ValueError(f"duplicate {factory.kind.singular} type {name!r}")
            table[name] = factory

    def get(self, kind: Kind, type_name: str) -> Factory | None:
        return self._by_kind[kind].get(type_name)

    def types(self, kind: Kind) -> list[str]:
        return sorted(self._by_kind[kind])

    def factories(self, kind: Kind) -> list[Factory]:
        """Each factory once (aliases folded), sorted by type."""
        seen = {id(f): f for f in self._by_kind[kind].values()}
        return sorted(seen.values(), key=lambda f: f.type)
