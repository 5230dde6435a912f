"""Validation of the whole collector config: every error at once, each with its key path."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import yaml
from pipeline_fakes import Attribute, ExporterConfig, make_registry

from cobalt_testkit import FIXTURES
from cobalt_trace.pipeline.component import ComponentID, Kind
from cobalt_trace.pipeline.config import build_config
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.confmap import load_config
from cobalt_trace.pipeline.errors import ConfigError

SEED = FIXTURES / "seed-config.yaml"


def build(text: str):
    return build_config(yaml.safe_load(text), make_registry())


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        build(text)
    return exc.value.errors


def test_seed_config_parses_with_its_types_and_defaults():
    cfg = build_config(load_config([str(SEED)], env={}), make_registry())
    pipeline = cfg.service.pipelines["traces"]
    assert pipeline.receivers == [ComponentID("otlp")]
    assert [str(p) for p in pipeline.processors] == ["resource", "tail_sampling", "batch"]
    assert pipeline.exporters == [ComponentID("otlp")]
    batch = cfg.get(Kind.PROCESSOR, ComponentID("batch")).config
    assert (batch.timeout, batch.send_batch_size) == (5.0, 1024)
    resource = cfg.get(Kind.PROCESSOR, ComponentID("resource")).config
    assert resource.attributes == [Attribute(key="cluster", value="control-plane", action="upsert")]
    policies = cfg.get(Kind.PROCESSOR, ComponentID("tail_sampling")).config.policies
    assert [p["name"] for p in policies] == ["error-traces", "slow-traces", "probabilistic"]
    assert policies[2]["probabilistic"] == {"sampling_percentage": 10}
    otlp = cfg.get(Kind.EXPORTER, ComponentID("otlp"))
    assert otlp.factory.type == "otlp_grpc"  # the deprecated alias resolves to the same factory
    assert otlp.id == ComponentID("otlp")  # ... but the id keeps the type as written
    assert otlp.config.endpoint == "otel-collector.management.svc:4317"
    assert otlp.config.tls.insecure is False
    telemetry = cfg.service.telemetry
    assert telemetry.metrics_endpoint == ("localhost", 8888)
    assert (telemetry.metrics_level, telemetry.log_level) == ("normal", "info")


def test_seed_config_with_env_overrides_and_a_second_file(tmp_path):
    overlay = tmp_path / "gateway.yaml"
    overlay.write_text(
        "exporters:\n  otlp:\n    endpoint: ${env:CENTRAL:-central:4317}\n"
        "processors:\n  resource:\n    attributes:\n"
        "      - {key: cluster, value: '${env:CLUSTER}', action: upsert}\n"
    )
    raw = load_config([str(SEED), str(overlay)], env={"CLUSTER": "hv-3"})
    cfg = build_config(raw, make_registry())
    assert cfg.get(Kind.EXPORTER, ComponentID("otlp")).config.endpoint == "central:4317"
    attrs = cfg.get(Kind.PROCESSOR, ComponentID("resource")).config.attributes
    assert attrs == [Attribute(key="cluster", value="hv-3", action="upsert")]


def test_every_error_is_listed_at_once_with_its_path():
    errors = errors_of(
        """
recievers: {}
receivers:
  otlp:
    protocols: {grpc: {endpoint: "0.0.0.0:4317", max_streams: 3}}
  foo: {}
  "otlp/": {}
processors:
  batch/2:
    timeout: xs
  resource:
    attributes: [{key: "", value: x}]
exporters:
  otlp:
    endpoint: central:4317
    tls: {insecur: true}
  debug:
    verbosity: loud
extensions:
  health_check: {}
service:
  extensions: [health_check, pprof]
  pipelines:
    traces:
      receivers: [otlp, foo]
      processors: [batch/2, resource, batch/2, batch/3]
      exporters: [otlp/missing]
    traces/empty:
      processor: [batch/2]
    metrics:
      receivers: [otlp]
      exporters: [otlp]
  telemetry:
    logs: {level: chatty, colour: true}
    metrics: {level: loud}
"""
    )
    expected = [
        "<root>: has invalid keys: recievers",
        "receivers::otlp::protocols::grpc: has invalid keys: max_streams",
        'receivers::foo: unknown type "foo" (known: otlp)',
        "receivers::otlp/: name part must be specified after '/' in 'otlp/'",
        'processors::batch/2::timeout: time: invalid duration "xs"',
        "processors::resource::attributes[0]::key: must not be empty",
        "exporters::otlp::tls: has invalid keys: insecur",
        "exporters::debug::verbosity: unsupported value 'loud'; expected one of 'basic', 'normal', 'detailed'",
        'service::extensions: references extension "pprof" which is not configured',
        'service::pipelines::traces::processors: references processor "batch/2" multiple times',
        'service::pipelines::traces::processors: references processor "batch/3" which is not configured',
        'service::pipelines::traces::exporters: references exporter "otlp/missing" which is not configured',
        "service::pipelines::traces/empty: has invalid keys: processor",
        "service::pipelines::traces/empty::receivers: must have at least one receiver",
        "service::pipelines::traces/empty::exporters: must have at least one exporter",
        "service::pipelines::metrics: only traces pipelines are supported (cobalt-trace is a tracing system)",
        "service::telemetry::logs: has invalid keys: colour",
        "service::telemetry::metrics::level: unknown level 'loud'; expected one of none, basic, normal, detailed",
    ]
    assert sorted(errors) == sorted(expected), "\n".join(errors)
    # the logs level is checked too once the section's keys are known
    assert any(
        e.startswith("service::telemetry::logs::level")
        for e in errors_of(
            "exporters: {debug: {}}\nreceivers: {otlp: {}}\nservice:\n  pipelines:\n"
            "    traces: {receivers: [otlp], exporters: [debug]}\n  telemetry: {logs: {level: chatty}}\n"
        )
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("service: {pipeline: {}}", "service: has invalid keys: pipeline"),
        ("service: {}", "service::pipelines: service must have at least one pipeline"),
        ("receivers: {}", "service: must be configured with at least one pipeline"),
        ("service: []", "service: expected a mapping, got list []"),
        ("receivers: [otlp]\nservice: {pipelines: {}}", "receivers: expected a mapping, got list ['otlp']"),
        (
            "service: {pipelines: {tracez: {}}}",
            'service::pipelines::tracez: unknown signal "tracez"; expected traces or traces/<name>',
        ),
        (
            "service: {pipelines: {'traces/': {}}}",
            "service::pipelines::traces/: invalid pipeline id: name part must be specified after '/' in 'traces/'",
        ),
        (
            "service: {pipelines: {traces: {receivers: otlp}}}",
            "service::pipelines::traces::receivers: expected a list of component ids, got str 'otlp'",
        ),
        (
            "service:\n  pipelines: {traces: {}}\n  telemetry: {metrics: {readers: [{periodic: {}}]}}",
            "service::telemetry::metrics::readers[0]::periodic: pushing self-metrics is not supported;"
            " use a pull reader with prometheus",
        ),
        (
            "service:\n  pipelines: {traces: {}}\n  telemetry: {metrics: {address: 'nope'}}",
            "service::telemetry::metrics::address: expected host:port, got 'nope'",
        ),
        (
            "service:\n  pipelines: {traces: {}}\n  telemetry:"
            " {metrics: {readers: [{pull: {exporter: {prometheus: {port: 70000, hots: x}}}}]}}",
            "service::telemetry::metrics::readers[0]::pull::exporter::prometheus: has invalid keys: hots",
        ),
        ("connectors: {forward: {}}", "connectors: connectors are not supported"),
    ],
)
def test_unknown_keys_and_shapes_at_each_level(text, error):
    assert error in errors_of(text)


def test_unused_components_are_fine_and_duplicates_of_receivers_exporters_fold():
    cfg = build(
        """
receivers: {otlp: {}, otlp/unused: {}}
exporters: {debug: {}, otlp/unused: {endpoint: "x:1"}}
service:
  pipelines:
    traces: {receivers: [otlp, otlp], exporters: [debug, debug]}
"""
    )
    pipeline = cfg.service.pipelines["traces"]
    assert pipeline.receivers == [ComponentID("otlp")]
    assert pipeline.exporters == [ComponentID("debug")]
    assert ComponentID("otlp", "unused") in cfg.components[Kind.EXPORTER]


@pytest.mark.parametrize(
    ("telemetry", "endpoint", "level"),
    [
        ("{}", ("localhost", 8888), "normal"),
        ("{metrics: {level: None}}", None, "none"),
        ("{metrics: {level: detailed, address: ':9999'}}", ("0.0.0.0", 9999), "detailed"),
        ("{metrics: {address: '127.0.0.1:9100'}}", ("127.0.0.1", 9100), "normal"),
        (
            "{metrics: {readers: [{pull: {exporter: {prometheus: {host: '0.0.0.0', port: 8889}}}}]}}",
            ("0.0.0.0", 8889),
            "normal",
        ),
        ("{metrics: {level: none, readers: [{pull: {exporter: {prometheus: {}}}}]}}", None, "none"),
    ],
)
def test_self_metrics_endpoint(telemetry, endpoint, level):
    cfg = build(
        "receivers: {otlp: {}}\nexporters: {debug: {}}\nservice:\n"
        "  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}\n"
        f"  telemetry: {telemetry}\n"
    )
    assert cfg.service.telemetry.metrics_endpoint == endpoint
    assert cfg.service.telemetry.metrics_level == level


def test_telemetry_logs_and_resource_are_kept():
    cfg = build(
        "receivers: {otlp: {}}\nexporters: {debug: {}}\nservice:\n"
        "  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}\n"
        "  telemetry: {logs: {level: WARN, encoding: json}, resource: {service.name: gw, k8s.pod.name: null}}\n"
    )
    telemetry = cfg.service.telemetry
    assert (telemetry.log_level, telemetry.log_encoding) == ("warning", "json")
    assert telemetry.resource == {"service.name": "gw", "k8s.pod.name": None}


# -- configtypes: validate() of nested dataclasses -------------------------------------------------
@dataclass
class Leaf:
    size: int = 1

    def validate(self) -> list[str]:
        return [] if self.size > 0 else ["size: must be positive"]


@dataclass
class Branch:
    leaf: Leaf = field(default_factory=Leaf)
    leaves: list[Leaf] = field(default_factory=list)
    named: dict[str, Leaf] = field(default_factory=dict)
    maybe: Leaf | None = None
    limit: int = 10

    def validate(self) -> list[str]:
        # a parent that still checks its child itself: the line is reported once
        errors = [f"leaf::{e}" for e in self.leaf.validate()]
        return errors + ([] if self.limit >= 0 else ["limit: must not be negative"])


def test_nested_validate_is_called_everywhere_and_reported_once():
    _, errors = decode(
        Branch,
        {
            "leaf": {"size": 0},
            "leaves": [{"size": 1}, {"size": -1}],
            "named": {"a": {"size": 0}},
            "maybe": {"size": 0},
            "limit": -1,
        },
        "processors::x",
    )
    assert errors == [
        "processors::x::leaf::size: must be positive",
        "processors::x::leaves[1]::size: must be positive",
        "processors::x::named::a::size: must be positive",
        "processors::x::maybe::size: must be positive",
        "processors::x::limit: must not be negative",
    ]


def test_validate_is_skipped_where_fields_did_not_decode():
    _, errors = decode(Branch, {"leaf": {"size": "big"}, "limit": "x"}, "p")
    assert errors == [
        "p::leaf::size: expected an integer, got 'big'",
        "p::limit: expected an integer, got 'x'",
    ]
    # a parent's own rules (endpoint must be set) wait until its fields decode
    _, errors = decode(ExporterConfig, {"tls": {"insecure": "maybe"}}, "exporters::otlp")
    assert errors == ["exporters::otlp::tls::insecure: expected a boolean, got 'maybe'"]
