"""Config loading: env expansion as the collector's confmap does it, merging, URIs, errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
import yaml

from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.confmap import load_config
from cobalt_trace.pipeline.errors import ConfigError


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def load_text(tmp_path, text: str, env: dict[str, str]) -> dict:
    return load_config([write(tmp_path, "c.yaml", text)], env=env)


ENV = {"HOST": "collector.svc", "PORT": "4317", "FLAG": "true", "EMPTY": "", "RATIO": "0.5"}


def test_env_references_in_all_supported_forms(tmp_path):
    cfg = load_text(
        tmp_path,
        """
a:
  braces: ${HOST}
  scheme: ${env:HOST}
  endpoint: ${env:HOST}:${env:PORT}
  default_unused: ${env:HOST:-fallback}
  default_used: ${env:NOPE:-fallback.svc:4317}
  default_empty: "${env:NOPE:-}"
  set_but_empty: ${env:EMPTY:-not-used}
  list: ["${env:HOST}", "x-${PORT}"]
""",
        ENV,
    )["a"]
    assert cfg == {
        "braces": "collector.svc",
        "scheme": "collector.svc",
        "endpoint": "collector.svc:4317",
        "default_unused": "collector.svc",
        "default_used": "fallback.svc:4317",
        "default_empty": "",
        "set_but_empty": "",  # the default is for unset variables only
        "list": ["collector.svc", "x-4317"],
    }


def test_dollar_escapes_and_bare_dollar_names(tmp_path):
    cfg = load_text(
        tmp_path,
        """
a:
  escaped: "$${env:HOST}"
  escaped_then_ref: "$$${env:PORT}"
  price: "5$$"
  bare: $HOST
  lone: "a $ b"
  regex: "^/v2\\\\.1/servers/[0-9a-f]+$"
""",
        ENV,
    )["a"]
    assert cfg["escaped"] == "${env:HOST}"
    assert cfg["escaped_then_ref"] == "$4317"
    assert cfg["price"] == "5$"
    assert cfg["bare"] == "$HOST"
    assert cfg["lone"] == "a $ b"
    assert cfg["regex"] == "^/v2\\.1/servers/[0-9a-f]+$"


def test_a_whole_scalar_reference_is_typed_as_yaml(tmp_path):
    cfg = load_text(
        tmp_path,
        """
port: ${env:PORT}
flag: ${FLAG}
ratio: ${env:RATIO}
quoted_default: ${env:NOPE:-42}
embedded: "p${env:PORT}"
text: ${env:HOST}
""",
        ENV,
    )
    assert cfg["port"] == 4317 and isinstance(cfg["port"], int)
    assert cfg["flag"] is True
    assert cfg["ratio"] == 0.5
    assert cfg["quoted_default"] == 42
    assert cfg["embedded"] == "p4317"
    assert cfg["text"] == "collector.svc"


def test_unset_variable_is_empty_and_logged(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="cobalt_trace.confmap"):
        cfg = load_text(tmp_path, "a:\n  b: ${env:NOT_SET_ANYWHERE}\n", {})
    assert cfg == {"a": {"b": ""}}
    assert "unset environment variable NOT_SET_ANYWHERE" in caplog.text
    assert "a::b" in caplog.text


def test_bad_references_are_all_reported_with_their_paths(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_text(
            tmp_path,
            """
receivers:
  otlp:
    endpoint: ${env:1BAD}
exporters:
  otlp:
    endpoint: "${env:HOST"
    headers: ["${file:/etc/token}"]
  debug:
    verbosity: ${VAR:-basic}
""",
            ENV,
        )
    errors = exc.value.errors
    assert len(errors) == 4, errors
    assert errors[0].startswith("receivers::otlp::endpoint: environment variable '1BAD'")
    assert "must match ^[a-zA-Z_][a-zA-Z0-9_]*$" in errors[0]
    assert errors[1].startswith("exporters::otlp::endpoint: unterminated reference '${env:HOST'")
    assert errors[2].startswith("exporters::otlp::headers[0]: unsupported scheme 'file'")
    assert errors[3].startswith("exporters::debug::verbosity: unsupported scheme 'VAR'")
    assert "${env:NAME:-default}" in errors[3]


def test_files_merge_in_order_maps_recursively_lists_replaced(tmp_path):
    base = write(
        tmp_path,
        "base.yaml",
        """
exporters:
  otlp:
    endpoint: central:4317
    tls: {insecure: false, ca_file: /ca.pem}
    headers: {a: "1"}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [resource, batch]
      exporters: [otlp]
""",
    )
    overlay = write(
        tmp_path,
        "overlay.yaml",
        """
exporters:
  otlp:
    tls: {insecure: true}
    headers: {b: "2"}
  debug: {}
service:
  pipelines:
    traces:
      processors: [batch]
""",
    )
    cfg = load_config([base, overlay], env={})
    assert cfg["exporters"] == {
        "otlp": {
            "endpoint": "central:4317",
            "tls": {"insecure": True, "ca_file": "/ca.pem"},
            "headers": {"a": "1", "b": "2"},
        },
        "debug": {},
    }
    assert cfg["service"]["pipelines"]["traces"] == {
        "receivers": ["otlp"],
        "processors": ["batch"],
        "exporters": ["otlp"],
    }


def test_uris_file_env_and_inline_yaml(tmp_path):
    path = write(tmp_path, "base.yaml", "exporters:\n  debug:\n    verbosity: basic\n")
    env = {"EXTRA": "processors:\n  batch:\n    timeout: 1s\n"}
    cfg = load_config(
        [f"file:{path}", "env:EXTRA", "yaml:exporters::debug::verbosity: detailed"],
        env=env,
    )
    assert cfg == {
        "exporters": {"debug": {"verbosity": "detailed"}},
        "processors": {"batch": {"timeout": "1s"}},
    }


def test_missing_file_and_yaml_syntax_error_reported_together(tmp_path):
    bad = write(tmp_path, "bad.yaml", "receivers:\n  otlp:\n    protocols: [grpc\n")
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as exc:
        load_config([missing, bad, "env:NOT_THERE"], env={})
    errors = exc.value.errors
    assert len(errors) == 3, errors
    assert errors[0] == f"{missing}: config file not found"
    assert errors[1].startswith(f"{bad}: line 4, column 1: ")
    assert errors[2] == "env:NOT_THERE: environment variable NOT_THERE is not set"


def test_top_level_must_be_a_mapping_and_empty_file_is_empty(tmp_path):
    empty = write(tmp_path, "empty.yaml", "# nothing here\n")
    assert load_config([empty], env={}) == {}
    listy = write(tmp_path, "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError) as exc:
        load_config([listy], env={})
    assert exc.value.errors == [f"{listy}: the top level must be a mapping, got list"]


def test_no_source_is_an_error():
    with pytest.raises(ConfigError):
        load_config([], env={})


def test_scalars_follow_yaml_1_2_like_the_collector_not_yaml_1_1(tmp_path):
    cfg = load_text(
        tmp_path,
        "a: [no, on, yes, 0123, '1:20', 1:20, 0x1F, 0o17, 2024-01-01, 1e3, .5, true, False, null]\n",
        {},
    )
    assert cfg["a"] == [
        "no",
        "on",
        "yes",
        123,
        "1:20",
        "1:20",
        31,
        15,
        "2024-01-01",
        1000.0,
        0.5,
        True,
        False,
        None,
    ]


def test_a_number_from_a_variable_keeps_its_text_for_string_fields(tmp_path):
    @dataclass
    class Cfg:
        tenant: str = ""
        version: str = ""
        port: int = 0

    raw = load_text(
        tmp_path, "tenant: ${env:T}\nversion: ${env:V}\nport: ${env:T}\n", {"T": "0123", "V": "1.10"}
    )
    assert raw["port"] == 123
    cfg, errors = decode(Cfg, raw)
    assert errors == []
    assert (cfg.tenant, cfg.version, cfg.port) == ("0123", "1.10", 123)
    assert type(cfg.port) is int
    assert yaml.safe_dump(raw, sort_keys=True) == "port: 123\ntenant: 123\nversion: 1.1\n"
