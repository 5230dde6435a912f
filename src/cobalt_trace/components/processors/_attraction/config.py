"""Config dataclasses for attribute actions and include/exclude blocks (contrib `attraction` and
`filterconfig`); field defaults mean "not set".  Validation lives next to the compiled forms
(`actions.py`, `matching.py`) so that the rules and their use never drift apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ActionConfig", "AttributeMatch", "LibraryMatch", "MatchProperties", "RegexpConfig"]


@dataclass
class ActionConfig:
    """One entry of `actions:` (attributes) or `attributes:` (resource)."""

    key: str = ""
    action: str = ""  # insert|update|upsert|delete|hash|extract|convert, any case
    value: Any = None
    pattern: str = ""
    from_attribute: str = ""
    from_context: str = ""
    converted_type: str = ""  # string|int|double, convert only
    default_value: Any = None  # insert/update/upsert: used when the source yields nothing


@dataclass
class RegexpConfig:
    cacheenabled: bool = False
    cachemaxnumentries: int = 0  # 0 with the cache on means unbounded, as upstream


@dataclass
class AttributeMatch:
    key: str = ""
    value: Any = None  # unset: the key only has to exist


@dataclass
class LibraryMatch:
    name: str = ""
    version: str | None = None  # unset: any version


@dataclass
class MatchProperties:
    """An `include:` or `exclude:` block; every given condition must hold (AND)."""

    match_type: str = ""  # strict|regexp, required
    regexp: RegexpConfig | None = None
    services: list[str] = field(default_factory=list)
    span_names: list[str] = field(default_factory=list)
    span_kinds: list[str] = field(default_factory=list)
    attributes: list[AttributeMatch] = field(default_factory=list)
    resources: list[AttributeMatch] = field(default_factory=list)
    libraries: list[LibraryMatch] = field(default_factory=list)
    # log-only keys, accepted so that the error names the real problem
    log_bodies: list[str] = field(default_factory=list)
    log_severity_texts: list[str] = field(default_factory=list)
    log_severity_number: Any = None
