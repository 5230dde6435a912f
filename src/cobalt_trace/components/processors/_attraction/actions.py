"""Compiled attribute actions (contrib `attraction.AttrProc`), applied in config order to a
repeated `KeyValue` field — a resource's or a span's `attributes`.

`from_context` values depend on who sent the data, not on the attributes, so they are resolved
once per consumed batch (`context_values`) and handed to `apply`; the resource processor also puts
them into its cache key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from ....pipeline.client import ClientInfo
from .config import ActionConfig
from .goregex import compile_go_regex
from .values import CONVERSION_TARGETS, any_value, convert_value, find, hash_value

__all__ = ["ACTIONS", "AttributeActions", "ContextValues", "resolve_context"]

ACTIONS = ("insert", "update", "upsert", "delete", "hash", "extract", "convert")
_SETTERS = ("insert", "update", "upsert")

# One resolved `from_context` value (None: not available) per action that reads the context.
ContextValues = tuple[str | None, ...]


@dataclass(slots=True)
class _Action:
    kind: str
    key: str
    value: AnyValue | None = None
    default: AnyValue | None = None
    from_attribute: str = ""
    context_key: str = ""
    context_index: int = -1
    regex: re.Pattern | None = None
    group_names: tuple[str, ...] = ()
    converted_type: str = ""


def resolve_context(key: str, client: ClientInfo) -> str | None:
    """A `from_context` key against the sending client, as upstream: `client.address` (the IP),
    `metadata.<name>` (all values joined with ";"), `auth.<attr>`; bare names read metadata."""
    if key == "client.address":
        return _host_of(client.address)
    if key.startswith("metadata."):
        values = client.get(key[len("metadata.") :])
    elif key.startswith("auth."):
        attr = (client.auth or {}).get(key[len("auth.") :])
        if isinstance(attr, str):
            return attr
        if not isinstance(attr, (list, tuple)) or not all(isinstance(a, str) for a in attr):
            return None
        values = attr
    else:
        values = client.get(key)
    return ";".join(values) if values else None


def _host_of(address: str) -> str:
    """The IP part of "ip:port" / "[v6]:port" (upstream reports the IP only)."""
    if address.startswith("["):
        return address[1 : address.find("]")] if "]" in address else address
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host
    return address


class AttributeActions:
    """A validated action list.  Build it with `compile`, which also reports config errors."""

    def __init__(self, actions: list[_Action]):
        self._actions = actions
        self._context_keys = tuple(a.context_key for a in actions if a.context_index >= 0)

    @property
    def uses_context(self) -> bool:
        return bool(self._context_keys)

    def __len__(self) -> int:
        return len(self._actions)

    @classmethod
    def compile(
        cls, configs: list[ActionConfig], path: str = "actions"
    ) -> tuple[AttributeActions, list[str]]:
        errors: list[str] = []
        actions: list[_Action] = []
        n_context = 0
        for i, cfg in enumerate(configs):
            action = _compile_one(cfg, f"{path}[{i}]", errors)
            if action is not None:
                if action.context_key:
                    action.context_index = n_context
                    n_context += 1
                actions.append(action)
        return cls(actions), errors

    def context_values(self, client: ClientInfo) -> ContextValues:
        return tuple(resolve_context(k, client) for k in self._context_keys)

    def apply(self, attrs, context: ContextValues = ()) -> None:
        """Run every action on `attrs` (a repeated `KeyValue` field), in place."""
        for a in self._actions:
            kind = a.kind
            if kind in _SETTERS:
                src = self._source(a, attrs, context)
                if src is None:
                    continue
                kv = find(attrs, a.key)
                if kv is None:
                    if kind != "update":
                        attrs.add(key=a.key, value=src)
                elif kind != "insert":
                    kv.value.CopyFrom(src)
            elif kind == "delete":
                if a.key:
                    _remove(attrs, a.key)
                for k in _matching_keys(a.regex, attrs):
                    _remove(attrs, k)
            elif kind == "hash":
                for k in ([a.key] if a.key else []) + _matching_keys(a.regex, attrs):
                    kv = find(attrs, k)
                    if kv is not None:
                        hash_value(kv.value)
            elif kind == "extract":
                kv = find(attrs, a.key)
                if kv is None or kv.value.WhichOneof("value") != "string_value":
                    continue
                m = a.regex.search(kv.value.string_value)
                if m is None:
                    continue
                for name in a.group_names:
                    text = m.group(name) or ""
                    target = find(attrs, name)
                    if target is None:
                        attrs.add(key=name).value.string_value = text
                    else:
                        target.value.string_value = text
            elif kind == "convert":
                kv = find(attrs, a.key)
                if kv is not None:
                    convert_value(kv.value, a.converted_type)

    @staticmethod
    def _source(a: _Action, attrs, context: ContextValues) -> AnyValue | None:
        if a.value is not None:
            return a.value
        if a.context_index >= 0:
            text = context[a.context_index] if a.context_index < len(context) else None
            if text is not None:
                return AnyValue(string_value=text)
        elif a.from_attribute:
            kv = find(attrs, a.from_attribute)
            if kv is not None:
                copied = AnyValue()
                copied.CopyFrom(kv.value)
                return copied
        return a.default


def _remove(attrs, key: str) -> None:
    for i, kv in enumerate(attrs):
        if kv.key == key:
            del attrs[i]
            return


def _matching_keys(regex: re.Pattern | None, attrs) -> list[str]:
    if regex is None:
        return []
    return [kv.key for kv in attrs if regex.search(kv.key)]


def _compile_one(cfg: ActionConfig, path: str, errors: list[str]) -> _Action | None:
    before = len(errors)

    def err(msg: str) -> None:
        errors.append(f"{path}: {msg}")

    kind = (cfg.action or "").strip().lower()
    if not kind:
        errors.append(f"{path}::action: missing action; expected one of {', '.join(ACTIONS)}")
        return None
    if kind not in ACTIONS:
        errors.append(
            f"{path}::action: action {cfg.action!r} is not supported; expected one of {', '.join(ACTIONS)}"
        )
        return None
    sources = [
        n
        for n, set_ in (
            ("value", cfg.value is not None),
            ("from_attribute", bool(cfg.from_attribute)),
            ("from_context", bool(cfg.from_context)),
        )
        if set_
    ]
    action = _Action(kind=kind, key=cfg.key)

    if kind in ("delete", "hash"):
        if not cfg.key and not cfg.pattern:
            err(f"key and pattern missing for {kind}; at least one of them is required")
    elif not cfg.key:
        errors.append(f'{path}::key: missing required field "key" for {kind}')

    if kind != "convert" and cfg.converted_type:
        errors.append(f"{path}::converted_type: only used by convert, not by {kind}")
    if kind not in _SETTERS and cfg.default_value is not None:
        errors.append(f"{path}::default_value: only used by insert, update and upsert, not by {kind}")

    if kind in _SETTERS:
        if not sources and cfg.default_value is None:
            err(f'{kind} needs one of "value", "from_attribute", "from_context" (or "default_value")')
        elif len(sources) > 1:
            err(f"{kind} takes only one value source, got {' and '.join(sources)}")
        if cfg.default_value is not None and "value" in sources:
            errors.append(f"{path}::default_value: not used together with value")
        if cfg.pattern:
            errors.append(f"{path}::pattern: not used by {kind}")
        try:
            if cfg.value is not None:
                action.value = any_value(cfg.value)
            elif cfg.default_value is not None and not sources:
                action.value = any_value(cfg.default_value)
            elif cfg.default_value is not None:
                action.default = any_value(cfg.default_value)
        except ValueError as exc:
            errors.append(f"{path}::value: {exc}")
        action.from_attribute = cfg.from_attribute
        action.context_key = cfg.from_context
    elif kind in ("delete", "hash"):
        if cfg.value is not None or cfg.from_attribute:
            err(f"{kind} does not use value or from_attribute")
        if cfg.from_context:
            err(f"{kind} does not use from_context")
        if cfg.pattern:
            action.regex = _compile(cfg.pattern, path, errors)
    elif kind == "extract":
        if sources:
            err(f"extract does not use {', '.join(sources)}")
        if not cfg.pattern:
            errors.append(f"{path}::pattern: `extract` needs `pattern` with named groups")
        else:
            regex = _compile(cfg.pattern, path, errors)
            if regex is not None:
                names = tuple(n for n, _ in sorted(regex.groupindex.items(), key=lambda item: item[1]))
                if not names:
                    errors.append(
                        f"{path}::pattern: `extract` needs `pattern` with named groups, got {cfg.pattern!r}"
                    )
                elif regex.groups != len(names):
                    errors.append(f"{path}::pattern: every group of an `extract` pattern must be named")
                action.regex, action.group_names = regex, names
    elif kind == "convert":
        if sources or cfg.pattern:
            err("convert does not use value, from_attribute, from_context or pattern")
        if not cfg.converted_type:
            errors.append(f"{path}::converted_type: missing; expected one of {', '.join(CONVERSION_TARGETS)}")
        elif cfg.converted_type not in CONVERSION_TARGETS:
            errors.append(
                f"{path}::converted_type: invalid value {cfg.converted_type!r}; "
                f"expected one of {', '.join(CONVERSION_TARGETS)}"
            )
        action.converted_type = cfg.converted_type
    return action if len(errors) == before else None


def _compile(pattern: str, path: str, errors: list[str]) -> re.Pattern | None:
    try:
        return compile_go_regex(pattern)
    except ValueError as exc:
        errors.append(f"{path}::pattern: {exc}")
        return None
