"""A loopback OTLP/HTTP sink for exporter tests, served from a thread: records each request's
path, headers, raw body and client port, and answers with scripted statuses."""

from __future__ import annotations

import http.server
import ssl
import threading
from dataclasses import dataclass

__all__ = ["HttpSink", "Reply", "Received"]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] | None = None
    content_type: str = "application/x-protobuf"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class HttpSink:
    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        self.received: list[Received] = []
        self.script: list[Reply] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink._lock:
                    sink.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            self.client_address[1],
                        )
                    )
                    reply = sink.script.pop(0) if sink.script else Reply()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for k, v in (reply.headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="http-sink", daemon=True
        )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
