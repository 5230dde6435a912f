"""Overhead of cobalt-trace-openstack per WSGI request and per RPC cast/dispatch.

    .venv/bin/python bench/instrumentation.py [--requests 20000] [--repeats 5]

Prints a markdown table. In one process, with the real set-up (``setup()``: SDK TracerProvider,
bounded BatchSpanProcessor, credential scrubber; the exporter discards in the background thread,
as a healthy local gateway would cost nothing on the request path):

* WSGI: a minimal app called with a realistic OpenStack environ (UUID in the path, traceparent,
  X-OpenStack-Request-Id, user agent), bare; behind our paste filter; behind
  ``opentelemetry-instrumentation-wsgi``'s ``OpenTelemetryMiddleware`` (stable HTTP semconv, same
  TracerProvider); and behind our filter while the collector is down (OTLP/HTTP to a closed port,
  queue full, spans dropped and counted).
* RPC: ``cast`` with and without the instrumentation up to the driver (the context flattened into
  ``_context_*`` keys and JSON-encoded, as amqpdriver does before publishing; producer side), and
  ``dispatch`` of one incoming message to an endpoint (consumer side).

Each figure is the best of ``--repeats`` runs of the mean time per call (wall clock, this
process, GC enabled). The first row is the floor every SDK-based middleware pays on this
machine: the official SDK starting and ending one span with a dozen attributes. Targets (issue 5): ≤ 50 µs added per request, ≤ 1.2× the OTel WSGI
middleware's added time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")  # both middlewares emit stable names
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "instrumentation" / "src"))

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult  # noqa: E402

import cobalt_trace_openstack  # noqa: E402


class DiscardExporter(SpanExporter):
    def __init__(self):
        self.spans = 0

    def export(self, spans):
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/v2.1/servers/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "QUERY_STRING": "",
    "SERVER_NAME": "nova-api",
    "SERVER_PORT": "8774",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "10.0.0.9",
    "HTTP_HOST": "nova-api:8774",
    "HTTP_USER_AGENT": "python-novaclient keystoneauth1/5.18.1",
    "HTTP_TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "HTTP_X_OPENSTACK_REQUEST_ID": "req-11111111-2222-4333-8444-555555555555",
    "openstack.request_id": "req-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
    "wsgi.url_scheme": "http",
}


def bare_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def _start_response(status, headers, exc_info=None):
    return None


def time_wsgi(app, n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        environs = [dict(ENVIRON) for _ in range(n)]
        t0 = time.perf_counter()
        for environ in environs:
            body = app(environ, _start_response)
            close = getattr(body, "close", None)
            for _chunk in body:
                pass
            if close is not None:
                close()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def time_calls(fn, n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def bench_rpc(n: int, repeats: int) -> dict:
    import oslo_messaging as om
    from oslo_config import cfg

    from cobalt_trace_openstack.messaging import OsloMessagingInstrumentor

    def make_conf():
        conf = cfg.ConfigOpts()
        for module, group in (
            ("oslo_messaging._metrics.client", "oslo_messaging_metrics"),
            ("oslo_messaging._tracing.client", "oslo_messaging_tracing"),
        ):
            try:
                conf.register_opts(getattr(__import__(module, fromlist=[group]), group), group=group)
            except (ImportError, AttributeError):
                pass
        conf([], project="bench")
        return conf

    class Endpoint:
        def work(self, ctxt, n):
            return n

    class Incoming:
        def __init__(self, ctxt):
            self.ctxt = ctxt
            self.message = {"method": "work", "args": {"n": 1}}
            self.msg_id = None
            self.client_timeout = None

    ctxt = {"request_id": "req-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "user_id": "u", "project_id": "p"}
    results = {}
    instrumentor = OsloMessagingInstrumentor()
    for label, instrumented in (("bare", False), ("traced", True)):
        if instrumented and not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(skip_dep_check=True)
        elif not instrumented and instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        transport = om.get_rpc_transport(make_conf(), url="fake:/")
        # The driver step is what amqpdriver does before publishing (flatten the context into
        # _context_* keys, JSON-encode); the fake driver's in-memory queues would grow without a
        # consumer and make the timing a measure of the garbage collector.
        transport._send = lambda target, msg_ctxt, message, **kw: json.dumps(
            {**{f"_context_{k}": v for k, v in msg_ctxt.items()}, **message}
        )
        client = om.get_rpc_client(transport, om.Target(topic="bench"))
        server = om.get_rpc_server(transport, om.Target(topic="bench", server="h"), [Endpoint()])
        results[f"cast {label}"] = time_calls(lambda c=client: c.cast(ctxt, "work", n=1), n, repeats)
        # The traced consumer sees what a traced producer sent.
        sent = client.serializer.serialize_context(ctxt) if instrumented else ctxt
        if instrumented:
            from opentelemetry import trace

            with trace.get_tracer("bench").start_as_current_span("p"):
                sent = client.serializer.serialize_context(ctxt)
        incoming = Incoming(sent)
        dispatch = server.dispatcher.dispatch
        results[f"dispatch {label}"] = time_calls(lambda d=dispatch, i=incoming: d(i), n, repeats)
        transport.cleanup()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n, repeats = args.requests, args.repeats

    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    from cobalt_trace_openstack.exporting import BoundedBatchSpanProcessor, ScrubbingSpanExporter
    from cobalt_trace_openstack.provider import make_otlp_exporter
    from cobalt_trace_openstack.settings import resolve
    from cobalt_trace_openstack.wsgi import TracingMiddleware

    exporter = DiscardExporter()
    provider = cobalt_trace_openstack.setup("bench-api", exporter=exporter)

    ours = TracingMiddleware(bare_app)
    otel = OpenTelemetryMiddleware(bare_app, tracer_provider=provider)
    # Warm up every path once (imports, caches).
    for app in (bare_app, ours, otel):
        time_wsgi(app, 200, 1)

    # The floor any SDK-based middleware pays: one SERVER span with a dozen attributes, started and
    # ended through the same provider and processor.
    from opentelemetry.trace import SpanKind

    tracer = provider.get_tracer("bench-floor")
    floor_attrs = {f"attr.{i}": "value" for i in range(12)}
    floor = time_calls(
        lambda: tracer.start_span("GET /x", kind=SpanKind.SERVER, attributes=floor_attrs).end(), n, repeats
    )
    bare = time_wsgi(bare_app, n, repeats)
    ours_us = time_wsgi(ours, n, repeats)
    otel_us = time_wsgi(otel, n, repeats)

    # Collector down: a second provider whose OTLP exporter points at a closed port.
    from opentelemetry.sdk.trace import TracerProvider

    down_settings = resolve("bench-api", endpoint="http://127.0.0.1:9/v1/traces", env={})
    down_settings = down_settings.__class__(**{**down_settings.__dict__, "protocol": "http/protobuf"})
    os.environ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"] = "1"
    down_provider = TracerProvider()
    down_processor = BoundedBatchSpanProcessor(ScrubbingSpanExporter(make_otlp_exporter(down_settings)), 2048)
    down_provider.add_span_processor(down_processor)
    down = TracingMiddleware(bare_app, tracer_provider=down_provider)
    time_wsgi(down, 200, 1)
    down_us = time_wsgi(down, n, repeats)

    rpc = bench_rpc(max(2000, n // 4), repeats)
    cobalt_trace_openstack.force_flush()

    added_ours, added_otel, added_down = ours_us - bare, otel_us - bare, down_us - bare
    rows = [
        ("SDK floor: start + end one SERVER span, 12 attributes", floor, floor, None),
        ("WSGI request, bare app", bare, None, None),
        ("WSGI request, cobalt_trace_openstack filter", ours_us, added_ours, added_ours / added_otel),
        ("WSGI request, opentelemetry-instrumentation-wsgi", otel_us, added_otel, 1.0),
        ("WSGI request, our filter, collector down", down_us, added_down, added_down / added_otel),
        ("RPC cast up to the driver, bare", rpc["cast bare"], None, None),
        (
            "RPC cast up to the driver, instrumented",
            rpc["cast traced"],
            rpc["cast traced"] - rpc["cast bare"],
            None,
        ),
        ("RPC dispatch to endpoint, bare", rpc["dispatch bare"], None, None),
        (
            "RPC dispatch to endpoint, instrumented",
            rpc["dispatch traced"],
            rpc["dispatch traced"] - rpc["dispatch bare"],
            None,
        ),
    ]
    print(
        f"Python {sys.version.split()[0]}, {n} requests x best of {repeats}; spans exported: {exporter.spans}"
    )
    print(f"collector-down run dropped {down_processor.dropped} spans (counted, not logged per span)")
    print()
    print("| scenario | µs per call | added µs | added vs OTel WSGI |")
    print("|---|---:|---:|---:|")
    for name, total, added, ratio in rows:
        added_s = f"{added:.1f}" if added is not None else "—"
        ratio_s = f"{ratio:.2f}×" if ratio is not None else "—"
        print(f"| {name} | {total:.1f} | {added_s} | {ratio_s} |")
    down_provider.shutdown()


if __name__ == "__main__":
    from _common import run_recorded

    run_recorded(main, 'Instrumentation overhead (bench/instrumentation.py)')
