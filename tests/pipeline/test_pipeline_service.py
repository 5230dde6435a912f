"""The service graph: instance sharing, start/shutdown order, data through two pipelines that
share a receiver and an exporter, clean-up after a failed start, dry runs."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from pipeline_fakes import FakeExporter, Journal, first_resource, make_batch, make_registry, resource_bytes

from cobalt_trace.pipeline.component import ComponentID, Kind
from cobalt_trace.pipeline.config import build_config
from cobalt_trace.pipeline.errors import ConfigError
from cobalt_trace.pipeline.fanout import FanOut
from cobalt_trace.pipeline.service import Service, StartError
from cobalt_trace.pipeline.telemetry import Telemetry

TWO_PIPELINES = """
receivers:
  otlp:
    protocols: {grpc: {endpoint: "127.0.0.1:4317"}}
  otlp/agents: {}
processors:
  resource:
    attributes: [{key: cluster, value: control-plane}]
  batch: {}
exporters:
  otlp:
    endpoint: central:4317
  debug: {}
extensions:
  health_check: {}
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [resource, batch]
      exporters: [otlp, debug]
    traces/agents:
      receivers: [otlp, otlp/agents]
      processors: [resource]
      exporters: [otlp]
"""


def make_service(text: str = TWO_PIPELINES, journal: Journal | None = None) -> tuple[Service, Journal]:
    journal = journal if journal is not None else Journal()
    registry = make_registry(journal)
    config = build_config(yaml.safe_load(text), registry)
    return Service(config, registry, Telemetry()), journal


def cid(text: str) -> ComponentID:
    return ComponentID.parse(text)


def test_instances_are_shared_as_upstream_does():
    service, _ = make_service()
    service.build()
    # one exporter per id, shared by both pipelines
    assert set(service.exporters) == {cid("otlp"), cid("debug")}
    otlp_exporter = service.exporters[cid("otlp")]
    traces, agents = service.pipelines["traces"], service.pipelines["traces/agents"]
    # processors: one instance per (pipeline, id)
    res_traces, batch = traces.processors
    (res_agents,) = agents.processors
    assert res_traces is not res_agents
    assert (res_traces.settings.pipeline, res_agents.settings.pipeline) == ("traces", "traces/agents")
    assert res_traces.next_consumer is batch
    assert isinstance(batch.next_consumer, FanOut)
    assert batch.next_consumer.consumers == [otlp_exporter, service.exporters[cid("debug")]]
    assert res_agents.next_consumer is otlp_exporter  # a single exporter needs no fan-out
    # one receiver per id; the shared one feeds both pipelines' first processors
    shared = service.receivers[cid("otlp")]
    assert isinstance(shared.next_consumer, FanOut)
    assert shared.next_consumer.consumers == [res_traces, res_agents]
    assert service.receivers[cid("otlp/agents")].next_consumer is res_agents
    # what a loadbalancing exporter and extensions users find on the host
    assert service.host.local_consumers == {"traces": res_traces, "traces/agents": res_agents}
    assert list(service.host.extensions) == [cid("health_check")]
    # factories get the registry (the loadbalancing exporter builds otlp backends from it)
    assert otlp_exporter.settings.extra["registry"] is service.registry
    assert otlp_exporter.settings.kind is Kind.EXPORTER


def test_start_and_shutdown_order():
    service, journal = make_service()

    async def run():
        await service.start()
        assert service.host.ready
        errors = await service.shutdown()
        assert not service.host.ready
        return errors

    assert asyncio.run(run()) == []
    assert journal.of("start") == [
        "extensions::health_check",
        "exporters::otlp",
        "exporters::debug",
        "processors::batch@traces",
        "processors::resource@traces",
        "processors::resource@traces/agents",
        "receivers::otlp",
        "receivers::otlp/agents",
    ]
    assert journal.of("shutdown") == [
        "receivers::otlp/agents",
        "receivers::otlp",
        "processors::resource@traces",
        "processors::batch@traces",
        "processors::resource@traces/agents",
        "exporters::debug",
        "exporters::otlp",
        "extensions::health_check",
    ]


def test_data_through_two_pipelines_each_mutating_its_own_copy():
    service, _ = make_service()

    async def run():
        await service.start()
        batch = make_batch("nova-api")
        await service.receivers[cid("otlp")].push(batch)
        await service.receivers[cid("otlp/agents")].push(make_batch("neutron-agent"))
        await service.shutdown()

    asyncio.run(run())
    traces, agents = service.pipelines["traces"], service.pipelines["traces/agents"]
    res_traces, batch = traces.processors
    (res_agents,) = agents.processors
    # each mutating resource processor saw the data as the receiver got it, never the other's change
    assert res_traces.seen == [resource_bytes("nova-api")]
    assert res_agents.seen == [resource_bytes("nova-api"), resource_bytes("neutron-agent")]
    assert batch.seen == [resource_bytes("traces:resource")]
    exported = [first_resource(b) for b in service.exporters[cid("otlp")].received]
    assert sorted(exported) == sorted(
        [
            resource_bytes("traces:resource"),
            resource_bytes("traces/agents:resource"),
            resource_bytes("traces/agents:resource"),
        ]
    )
    assert [first_resource(b) for b in service.exporters[cid("debug")].received] == [
        resource_bytes("traces:resource")
    ]


def test_a_mutating_exporter_gets_a_copy_when_a_sibling_exporter_reads():
    text = TWO_PIPELINES.replace("  debug: {}", "  debug: {mutates: true}")
    service, _ = make_service(text)

    async def run():
        await service.start()
        await service.receivers[cid("otlp/agents")].push(make_batch("cinder-volume"))
        await service.receivers[cid("otlp")].push(make_batch("nova-api"))
        await service.shutdown()

    asyncio.run(run())
    otlp, debug = service.exporters[cid("otlp")], service.exporters[cid("debug")]
    (debug_batch,) = debug.received
    assert all(b is not debug_batch for b in otlp.received)
    assert first_resource(debug_batch) == resource_bytes("exported-by-debug")
    # the read-only sibling kept the pipeline's data as the processors left it
    assert sorted(first_resource(b) for b in otlp.received) == sorted(
        [resource_bytes("traces/agents:resource")] * 2 + [resource_bytes("traces:resource")]
    )


def test_a_failing_start_shuts_down_what_started_and_names_the_component():
    text = TWO_PIPELINES.replace("otlp/agents: {}", "otlp/agents: {fail_start: true}")
    service, journal = make_service(text)
    with pytest.raises(StartError) as exc:
        asyncio.run(service.start())
    assert exc.value.component_id == cid("otlp/agents")
    assert "receivers::otlp/agents" in str(exc.value) and "cannot bind" in str(exc.value)
    assert journal.of("start")[-1] == "receivers::otlp/agents"
    assert journal.of("shutdown") == [
        "receivers::otlp",
        "processors::resource@traces",
        "processors::batch@traces",
        "processors::resource@traces/agents",
        "exporters::debug",
        "exporters::otlp",
        "extensions::health_check",
    ]
    assert not service.host.ready
    assert asyncio.run(service.shutdown()) == []  # nothing left to stop


def test_an_exporter_failing_to_start_stops_the_extensions_again():
    text = TWO_PIPELINES.replace("  debug: {}", "  debug: {fail_start: true}")
    service, journal = make_service(text)
    with pytest.raises(StartError, match="exporters::debug"):
        asyncio.run(service.start())
    assert journal.of("shutdown") == ["exporters::otlp", "extensions::health_check"]


def test_receivers_announce_their_endpoints_before_exporters_start():
    service, _ = make_service()
    asyncio.run(service.start())
    asyncio.run(service.shutdown())
    otlp = service.exporters[cid("otlp")]
    assert isinstance(otlp, FakeExporter)
    receiver = service.receivers[cid("otlp")]
    assert otlp.local_endpoints_at_start == {"127.0.0.1:4317": receiver.next_consumer}


def test_dry_run_creates_without_starting_and_reports_factory_errors():
    service, journal = make_service()
    assert service.dry_run() is service
    assert service.receivers and journal.events == []

    text = TWO_PIPELINES.replace("  debug: {}", "  debug: {fail_create: no route}").replace(
        "endpoint: central:4317", "endpoint: central:4317\n    fail_create: no backend"
    )
    service, journal = make_service(text)
    with pytest.raises(ConfigError) as exc:
        service.dry_run()
    assert exc.value.errors == [
        "exporters::otlp::fail_create: no backend",
        "exporters::debug::fail_create: no route",
    ]
    assert journal.events == []


def test_unused_components_are_not_created():
    text = TWO_PIPELINES.replace("  debug: {}", "  debug: {}\n  debug/unused: {}")
    service, _ = make_service(text)
    service.build()
    assert cid("debug/unused") not in service.exporters
