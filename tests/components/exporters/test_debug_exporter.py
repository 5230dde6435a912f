"""The debug exporter's three verbosities and its sampling."""

from __future__ import annotations

import logging

import pytest
from exporter_testkit import decode_ok, make_batch, make_settings, run

from cobalt_trace.components.exporters.debug.factory import FACTORY
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry


def logged(raw: dict, *batches, caplog) -> list[str]:
    settings = make_settings("debug")
    exporter = FACTORY.create(settings, decode_ok(FACTORY.config_type, raw))

    async def go():
        await exporter.start(Host(Telemetry()))
        for b in batches:
            await exporter.consume(b)
        await exporter.shutdown()

    with caplog.at_level(logging.INFO, logger="cobalt_trace"):
        run(go())
    return [r.getMessage() for r in caplog.records if r.name == "cobalt_trace.exporter.debug"]


def test_basic_is_one_summary_line(caplog):
    lines = logged({}, make_batch(3), caplog=caplog)
    assert lines == ['TracesExporter {"resource spans": 1, "spans": 3}']


def test_normal_is_one_line_per_span(caplog):
    lines = logged({"verbosity": "normal"}, make_batch(2), caplog=caplog)
    assert lines[0] == 'TracesExporter {"resource spans": 1, "spans": 2}'
    text = lines[1].splitlines()
    trace = bytes(range(1, 17)).hex()
    assert text == [
        "ResourceTraces #0 service.name=nova-api",
        "ScopeTraces #0 cobalt.test@1.0",
        f"GET /servers/0 {trace} 0000000000000001 http.route=/servers/{{id}} http.status_code=200",
        f"GET /servers/1 {trace} 0000000000000002 http.route=/servers/{{id}} http.status_code=200",
    ]


def test_detailed_dumps_every_field(caplog):
    lines = logged({"verbosity": "detailed"}, make_batch(1), caplog=caplog)
    dump = lines[1]
    for expected in (
        "ResourceSpans #0",
        "Resource attributes:\n     -> service.name: Str(nova-api)",
        "InstrumentationScope cobalt.test 1.0",
        "Span #0",
        f"    Trace ID       : {bytes(range(1, 17)).hex()}",
        "    ID             : 0000000000000001",
        "    Name           : GET /servers/0",
        "    Kind           : Server",
        "    Start time     : 2023-11-14 22:13:20.000000000 +0000 UTC",
        "    Status code    : Error",
        "Attributes:\n     -> http.route: Str(/servers/{id})\n     -> http.status_code: Int(200)",
        "Events:\nSpanEvent #0\n     -> Name: retry",
        "Links:\nSpanLink #0\n     -> Trace ID: " + "00" * 16,
    ):
        assert expected in dump


def test_sampling_thins_output_within_a_second(caplog, monkeypatch):
    import cobalt_trace.components.exporters.debug.exporter as module

    monkeypatch.setattr(module, "_clock", lambda: 1000.0)  # all batches in one second
    lines = logged({"sampling_initial": 2, "sampling_thereafter": 3}, *[make_batch(1)] * 8, caplog=caplog)
    # batches 1 and 2, then every third after them: 5 and 8
    assert len(lines) == 4


def test_config_errors():
    _, errors = decode(FACTORY.config_type, {"verbosity": "loud"}, "exporters::debug")
    assert errors and errors[0].startswith("exporters::debug::verbosity: unsupported value 'loud'")
    _, errors = decode(FACTORY.config_type, {"sampling_thereafter": 0}, "exporters::debug")
    assert errors == ["exporters::debug::sampling_thereafter: must be at least 1"]


@pytest.mark.parametrize("verbosity", ["basic", "normal", "detailed"])
def test_stdout_when_internal_logger_is_off(verbosity, capsys, caplog):
    logged({"verbosity": verbosity, "use_internal_logger": False}, make_batch(1), caplog=caplog)
    assert 'TracesExporter {"resource spans": 1, "spans": 1}' in capsys.readouterr().out
