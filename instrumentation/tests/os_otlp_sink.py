"""A minimal OTLP/HTTP trace receiver for tests: decodes what the official exporters send."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in any_value.array_value.values)
    return getattr(any_value, kind) if kind else None


class ReceivedSpan:
    def __init__(self, resource: dict, span):
        self.resource = resource
        self.name = span.name
        self.trace_id = span.trace_id.hex()
        self.span_id = span.span_id.hex()
        self.parent_span_id = span.parent_span_id.hex() or None
        self.kind = span.kind
        self.status_code = span.status.code
        self.attributes = {a.key: _value(a.value) for a in span.attributes}
        self.events = [(e.name, {a.key: _value(a.value) for a in e.attributes}) for e in span.events]
        self.raw = span.SerializeToString()

    @property
    def service(self):
        return self.resource.get("service.name")

    def __repr__(self):
        return f"<{self.service}:{self.name} {self.trace_id[:8]}/{self.span_id[:8]}<-{self.parent_span_id}>"


class OtlpSink:
    def __init__(self):
        self.spans: list[ReceivedSpan] = []
        self.bodies: list[bytes] = []
        self._cond = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                received = []
                for rs in request.resource_spans:
                    resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        received.extend(ReceivedSpan(resource, s) for s in ss.spans)
                with sink._cond:
                    sink.bodies.append(body)
                    sink.spans.extend(received)
                    sink._cond.notify_all()
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    def start(self):
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def wait_for(self, predicate, timeout=30.0):
        """Wait until predicate(spans) is true; returns the spans (the caller asserts)."""
        with self._cond:
            self._cond.wait_for(lambda: predicate(self.spans), timeout=timeout)
            return list(self.spans)
