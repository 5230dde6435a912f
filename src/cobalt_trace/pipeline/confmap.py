"""Load the collector's YAML the way `otelcol --config` does (core `confmap`).

- Each source is a file path, or a URI: `file:PATH`, `env:VAR` (the variable holds YAML),
  `yaml:INLINE` (e.g. `yaml:exporters::debug::verbosity: detailed`, `::` separating keys).
- Sources are deep-merged in order: mappings merge key by key, anything else (lists included)
  is replaced by the later source.
- After merging, string values are expanded: `${env:VAR}` or `${VAR}`, `${env:VAR:-default}`
  (the default applies when VAR is unset), `$$` is a literal `$`; a bare `$VAR` stays as written.
  When the whole scalar is one `${...}`, the value is parsed as a YAML scalar, so `${env:PORT}`
  holding `4317` becomes an int.  An unset variable without default expands to "" and is logged,
  as upstream does.
Every problem (missing file, YAML syntax, bad `${...}`) is reported at once in a `ConfigError`.

Scalars are typed by YAML 1.2's core schema, as the collector's Go YAML library does, not by
PyYAML's YAML 1.1 rules: `no`/`on`/`yes` stay text, `0123` is 123 (not octal 83), `1:20` is
text (not 80 seconds in base 60), dates stay text.  A whole-scalar `${...}` that reads as a
number still remembers what the variable said, so a string field gets "0123", not "123"
(upstream keeps the original text for string fields too).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

import yaml

from .configtypes import join_path
from .errors import ConfigError

__all__ = ["load_config", "merge", "expand", "parse_yaml"]

log = logging.getLogger("cobalt_trace.confmap")

_ENV_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+$")
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]+):(?P<rest>.*)$", re.S)


def load_config(paths: list[str], env: Mapping[str, str] | None = None) -> dict:
    """The merged, expanded config of `paths` (files or URIs), in order."""
    env = os.environ if env is None else env
    if not paths:
        raise ConfigError(["no configuration given: pass at least one --config"])
    errors: list[str] = []
    merged: dict = {}
    for source in paths:
        data = _retrieve(source, env, errors)
        if data is not None:
            merged = merge(merged, data)
    if errors:
        raise ConfigError(errors)
    expanded = expand(merged, env, errors)
    if errors:
        raise ConfigError(errors)
    return expanded


def _retrieve(source: str, env: Mapping[str, str], errors: list[str]) -> dict | None:
    m = _URI.match(source)
    scheme = m.group("scheme") if m else ""
    # "C:\\x.yaml" or a relative "a:b.yaml" have no known scheme: read them as paths.
    if scheme == "yaml":
        return _inline_yaml(m.group("rest"), source, errors)
    if scheme == "env":
        name = m.group("rest")
        if not _ENV_NAME.match(name):
            errors.append(f"{source}: environment variable {name!r} has invalid name: {_ENV_NAME.pattern}")
            return None
        if name not in env:
            errors.append(f"{source}: environment variable {name} is not set")
            return None
        return parse_yaml(env[name], source, errors)
    path = m.group("rest") if scheme == "file" else source
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        errors.append(f"{path}: config file not found")
        return None
    except OSError as exc:
        errors.append(f"{path}: cannot read config file: {exc.strerror or exc}")
        return None
    return parse_yaml(text, path, errors)


def _inline_yaml(text: str, source: str, errors: list[str]) -> dict | None:
    """`yaml:a::b::c: value` nests under a, b, c (the collector's `--config yaml:` form)."""
    key, sep, value = text.partition(": ")
    if sep and "::" in key and "\n" not in key:
        data = parse_yaml(value, source, errors, mapping=False)
        for part in reversed(key.split("::")):
            data = {part: data}
        return data
    return parse_yaml(text, source, errors)


class _CoreSchemaLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema implicit types (see the module docstring)."""

    def construct_core_int(self, node) -> int:
        text = self.construct_scalar(node).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        if digits[:2] in ("0o", "0x"):
            return sign * int(digits[2:], 8 if digits[1] == "o" else 16)
        return sign * int(digits, 10)


_YAML11_TYPES = ("bool", "int", "float", "timestamp")  # PyYAML's YAML 1.1 resolvers, replaced below
_CoreSchemaLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag.rsplit(":", 1)[-1] not in _YAML11_TYPES]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CoreSchemaLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreSchemaLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreSchemaLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_CoreSchemaLoader.add_constructor("tag:yaml.org,2002:int", _CoreSchemaLoader.construct_core_int)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_CoreSchemaLoader)  # noqa: S506 - a SafeLoader subclass


def parse_yaml(text: str, where: str, errors: list[str], *, mapping: bool = True) -> Any:
    """Parse `text`; a syntax error is appended as `where: line L, column C: problem`."""
    try:
        data = _load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else problem
        if mark is not None:
            errors.append(f"{where}: line {mark.line + 1}, column {mark.column + 1}: {detail}")
        else:
            errors.append(f"{where}: invalid YAML: {detail}")
        return None
    if not mapping:
        return data
    if data is None:
        return {}
    if not isinstance(data, dict):
        errors.append(f"{where}: the top level must be a mapping, got {type(data).__name__}")
        return None
    return _string_keys(data)


def _string_keys(value: Any) -> Any:
    # YAML allows `1: x` or `true: y`; the collector's keys are always text.
    if isinstance(value, dict):
        return {_key_text(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return str(key).lower()
    return "" if key is None else str(key)


def merge(base: Any, override: Any) -> Any:
    """`override` on top of `base`: mappings merge recursively, everything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    return override


def expand(value: Any, env: Mapping[str, str], errors: list[str], path: str = "") -> Any:
    """`value` with `${...}` references in its strings resolved; problems go to `errors`."""
    if isinstance(value, dict):
        return {k: expand(v, env, errors, join_path(path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env, errors, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and "$" in value:
        return _expand_string(value, env, errors, path or "<root>")
    return value


def _expand_string(text: str, env: Mapping[str, str], errors: list[str], path: str) -> Any:
    out: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        dollar = text.find("$", pos)
        if dollar < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:dollar])
        nxt = text[dollar + 1 : dollar + 2]
        if nxt == "$":  # `$$` escapes a dollar
            out.append("$")
            pos = dollar + 2
            continue
        if nxt != "{":  # bare `$VAR` or a lone `$`: not a reference
            out.append("$")
            pos = dollar + 1
            continue
        close = text.find("}", dollar + 2)
        if close < 0:
            errors.append(f"{path}: unterminated reference {text[dollar:]!r}: missing '}}'")
            return text
        ref = text[dollar : close + 1]
        try:
            value = _resolve(ref, env, path)
        except ValueError as exc:
            errors.append(f"{path}: {exc}")
            return text
        if dollar == 0 and close == n - 1:
            return _as_scalar(value)  # the whole value: typed as YAML reads it
        out.append(value)
        pos = close + 1
    return "".join(out)


def _resolve(ref: str, env: Mapping[str, str], path: str) -> str:
    body = ref[2:-1]
    if "$" in body:
        raise ValueError(f"the reference {ref!r} contains unsupported characters ('$')")
    if not body:
        raise ValueError(f"empty reference {ref!r}")
    scheme, sep, rest = body.partition(":")
    if not sep:
        scheme, rest = "env", body  # `${VAR}` means `${env:VAR}`
    elif not _SCHEME.match(scheme):
        raise ValueError(f"invalid reference {ref!r}: expected ${{env:NAME}} or ${{env:NAME:-default}}")
    if scheme != "env":
        raise ValueError(
            f"unsupported scheme {scheme!r} in {ref!r}; use ${{env:NAME}} or ${{env:NAME:-default}}"
        )
    name, has_default, default = rest.partition(":-")
    if not _ENV_NAME.match(name):
        raise ValueError(
            f"environment variable {name!r} in {ref!r} has invalid name: must match {_ENV_NAME.pattern}"
        )
    if name in env:
        value = env[name]
        if value == "":
            log.warning("%s: configuration references empty environment variable %s", path, name)
        return value
    if has_default:
        return default
    log.warning("%s: configuration references unset environment variable %s", path, name)
    return ""


class ExpandedInt(int):
    """An int that came from `${...}`; `original` is the variable's text (for string fields)."""

    original: str


class ExpandedFloat(float):
    original: str


# so that a loaded config can still be written back out (debugging, `validate` output)
yaml.SafeDumper.add_representer(ExpandedInt, yaml.representer.SafeRepresenter.represent_int)
yaml.SafeDumper.add_representer(ExpandedFloat, yaml.representer.SafeRepresenter.represent_float)


def _as_scalar(text: str) -> Any:
    """Types follow YAML (`4317` → int, `true` → bool); anything YAML cannot read stays text."""
    if text == "":
        return ""
    try:
        value = _load(text)
    except yaml.YAMLError:
        return text
    if value is None or isinstance(value, (dict, list)) and not text.lstrip().startswith(("{", "[")):
        return text  # "~", "null" or a comment-only value: keep what the variable said
    if isinstance(value, int) and not isinstance(value, bool):
        value = ExpandedInt(value)
        value.original = text
    elif isinstance(value, float):
        value = ExpandedFloat(value)
        value.original = text
    return _string_keys(value)
