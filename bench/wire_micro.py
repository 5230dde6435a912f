"""Micro-benchmarks of the wire layer, in µs per span of a realistic request.

    .venv/bin/python bench/wire_micro.py [--repeat 15]

The request is the one of `docs`' performance baseline: 1024 spans, ~100 traces, 3 resources with 6
attributes each, 10 attributes of mixed types per span (str/int/double/bool), an event with two
attributes on a quarter of the spans, ~1% error statuses, parents on most spans.  Each figure is the
best of `--repeat` runs (the machine is shared; the minimum is the least disturbed).  Only prints.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402
from opentelemetry.proto.trace.v1 import trace_pb2  # noqa: E402

from cobalt_trace.wire import spanview, validate  # noqa: E402
from cobalt_trace.wire.batch import SpanBatch  # noqa: E402
from cobalt_trace.wire.otlp_json import traces_from_json, traces_to_json  # noqa: E402


def _kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def build_request(spans: int = 1024, traces: int = 100, resources: int = 3, seed: int = 42) -> bytes:
    rnd = random.Random(seed)
    trace_ids = [rnd.randbytes(16) for _ in range(traces)]
    req = ExportTraceServiceRequest()
    scopes = []
    for r in range(resources):
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(
            [
                _kv("service.name", ["nova-api", "neutron-server", "glance-api"][r % 3]),
                _kv("service.version", "27.1.0"),
                _kv("host.name", f"ctl-{r:02d}"),
                _kv("k8s.namespace.name", "openstack"),
                _kv("k8s.pod.name", f"api-{r}-7c9d8"),
                _kv("process.pid", 1000 + r),
            ]
        )
        ss = rs.scope_spans.add()
        ss.scope.name = "opentelemetry.instrumentation.wsgi"
        ss.scope.version = "0.50b0"
        scopes.append(ss)
    t0 = 1_700_000_000_000_000_000
    for i in range(spans):
        start = t0 + i * 1_000_000
        span = scopes[i % resources].spans.add(
            trace_id=trace_ids[i % traces],
            span_id=rnd.randbytes(8),
            name=f"GET /v2.1/servers/{rnd.randrange(10**6)}",
            kind=trace_pb2.Span.SPAN_KIND_SERVER,
            start_time_unix_nano=start,
            end_time_unix_nano=start + rnd.randrange(10**5, 10**9),
            flags=0x101,
        )
        if i % 10:
            span.parent_span_id = rnd.randbytes(8)
        span.attributes.extend(
            [
                _kv("http.request.method", "GET"),
                _kv("url.path", "/v2.1/servers/detail"),
                _kv("http.response.status_code", 200),
                _kv("server.address", "nova-api.openstack.svc"),
                _kv("server.port", 8774),
                _kv("network.protocol.version", "1.1"),
                _kv("user_agent.original", "python-novaclient"),
                _kv("http.server.duration_ratio", rnd.random()),
                _kv("openstack.request_id", f"req-{rnd.randbytes(16).hex()}"),
                _kv("sampled", bool(i % 2)),
            ]
        )
        if i % 4 == 0:
            ev = span.events.add(time_unix_nano=start + 5000, name="db.query")
            ev.attributes.extend([_kv("db.system", "mysql"), _kv("rows", rnd.randrange(100))])
        if i % 100 == 7:
            span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
            span.status.message = "upstream timeout"
    return req.SerializeToString()


def best(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    data = build_request()
    batch = SpanBatch.from_bytes(data)
    n = batch.span_count
    spans = [s for _, _, s in batch.iter_spans()]
    pieces = batch.split(256)
    json_text = traces_to_json(data)
    print(f"request: {n} spans, {len(data)} bytes ({len(data) / n:.0f} B/span), JSON {len(json_text)} bytes")

    rows = []
    if validate.validate_request_native is not None:
        rows.append(("validate_request, native", lambda: validate.validate_request_native(data)))
    rows.append(("validate_request, pure (upb fast accept)", lambda: validate.validate_request_pure(data)))
    rows.append(
        ("validate_request, pure walker only", lambda: validate._walk(data, "request", 0, len(data), 0, []))
    )
    if spanview.scan_spans_native is not None:
        rows.append(("scan_spans, native", lambda: spanview.scan_spans_native(spans)))
    rows.append(("scan_spans, pure (SpanLite)", lambda: spanview.scan_spans_pure(spans)))
    rows.append(("SpanBatch.from_bytes (validating)", lambda: SpanBatch.from_bytes(data)))
    rows.append(("SpanBatch.concat(4 pieces).to_bytes", lambda: SpanBatch.concat(pieces).to_bytes()))
    rows.append(("SpanBatch.split(256)", lambda: SpanBatch.from_bytes(data, validate=False).split(256)))
    rows.append(("message edit + to_bytes (re-serialize)", lambda: _reserialize(data)))
    rows.append(("traces_to_json", lambda: traces_to_json(data)))
    rows.append(("traces_from_json", lambda: traces_from_json(json_text)))

    width = max(len(name) for name, _ in rows)
    print(f"{'step':<{width}}  µs/span")
    for name, fn in rows:
        repeat = max(3, args.repeat // 5) if "walker" in name or "json" in name else args.repeat
        print(f"{name:<{width}}  {best(fn, repeat) / n * 1e6:8.3f}")


def _reserialize(data: bytes) -> bytes:
    b = SpanBatch.from_bytes(data, validate=False)
    b.message  # noqa: B018 - asking for the message drops the cached bytes
    return b.to_bytes()


if __name__ == "__main__":
    main()
