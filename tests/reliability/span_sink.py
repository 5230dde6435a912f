"""An OTLP/gRPC sink that records the span id of every span it acknowledges.

Each request's span ids (8-byte big-endian ids as little-endian u64) are appended to `--ids-file`
with one `write(2)` before the request is answered, so a sink that is killed (or restarted on the
same file) leaves an exact record of what it received; duplicates show up as repeated ids.

    python span_sink.py --port 4317 --ids-file ids.bin [--delay 0.2] [--token SECRET]

`--delay` answers each request that many seconds late (a slow backend); `--token` answers
UNAUTHENTICATED unless the request carries `authorization: Bearer <token>`.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import os
import signal

import grpc

from cobalt_trace.wire.otlp_raw import RequestRaw, SpanLite

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


def span_ids_of(request: bytes) -> array.array:
    ids = array.array("Q")
    for rs in RequestRaw.FromString(request).resource_spans:
        for ss in rs.scope_spans:
            ids.extend(int.from_bytes(SpanLite.FromString(s).span_id, "big") for s in ss.spans)
    return ids


async def serve(port: int, ids_file: str, delay: float, token: str) -> None:
    fd = os.open(ids_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    expected = f"Bearer {token}"

    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if token:
            headers = dict(context.invocation_metadata() or ())
            if headers.get("authorization") != expected:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "sink: missing or wrong bearer token")
        if delay:
            await asyncio.sleep(delay)
        os.write(fd, span_ids_of(request).tobytes())
        return b""

    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(export)}
    )
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 << 20)])
    server.add_generic_rpc_handlers((handler,))
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"span_sink: cannot listen on 127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0.5)
    os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ids-file", required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--token", default="")
    args = ap.parse_args()
    asyncio.run(serve(args.port, args.ids_file, args.delay, args.token))


if __name__ == "__main__":
    main()
