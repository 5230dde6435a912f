"""A loopback OTLP/gRPC sink for exporter tests: records raw request bytes and metadata, and
answers with scripted statuses; plus a TCP relay that counts the bytes a client puts on the wire."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

__all__ = ["GrpcSink", "ByteCountingRelay", "retry_info_trailers", "partial_success_response"]


def retry_info_trailers(code: grpc.StatusCode, delay: float) -> tuple[tuple[str, bytes], ...]:
    info = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=int(delay), nanos=int((delay % 1) * 1e9))
    )
    status = status_pb2.Status(code=code.value[0], message="slow down")
    status.details.add().Pack(info)
    return (("grpc-status-details-bin", status.SerializeToString()),)


def partial_success_response(rejected: int, message: str) -> bytes:
    resp = trace_service_pb2.ExportTraceServiceResponse()
    resp.partial_success.rejected_spans = rejected
    resp.partial_success.error_message = message
    return resp.SerializeToString()


class GrpcSink:
    """`script` items: None (answer OK), bytes (answer with this response body) or
    (StatusCode, details, trailers) to fail the call."""

    def __init__(self, credentials=None):
        self.requests: list[bytes] = []
        self.metadata: list[dict[str, str]] = []
        self.script: list = []
        self.received = asyncio.Event()
        self._credentials = credentials
        self._server = None
        self.port = 0

    async def _export(self, request: bytes, context):
        self.requests.append(request)
        self.metadata.append({m.key: m.value for m in context.invocation_metadata()})
        self.received.set()
        action = self.script.pop(0) if self.script else None
        if isinstance(action, tuple):
            code, details, trailers = action
            if trailers:
                context.set_trailing_metadata(trailers)
            await context.abort(code, details)
        return action or b""

    async def __aenter__(self):
        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(self._export)},
        )
        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers((handler,))
        if self._credentials is None:
            self.port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self._server.add_secure_port("127.0.0.1:0", self._credentials)
        await self._server.start()
        return self

    async def __aexit__(self, *exc):
        await self._server.stop(None)


class ByteCountingRelay:
    """Forwards TCP to `target_port` and counts client→server bytes."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.upstream_bytes = 0
        self._server = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    async def _pipe(self, reader, writer, count: bool):
        try:
            while data := await reader.read(65536):
                if count:
                    self.upstream_bytes += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for t in (
            asyncio.create_task(self._pipe(client_reader, server_writer, True)),
            asyncio.create_task(self._pipe(server_reader, client_writer, False)),
        ):
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
