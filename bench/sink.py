"""An OTLP/gRPC sink for benchmarks: acknowledges every export and counts the spans.

`--mode count` parses each request with the bytes schema to count spans (cheap); `--mode ack`
only acknowledges — the "gRPC alone" ceiling.  Prints the running count on SIGUSR1 and at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import grpc

from cobalt_trace.wire.otlp_raw import RequestRaw

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=("count", "ack"), default="count")
    ap.add_argument("--count-file", default="")
    args = ap.parse_args()
    state = {"spans": 0, "requests": 0}

    async def export(request: bytes, context) -> bytes:
        state["requests"] += 1
        if args.mode == "count":
            msg = RequestRaw.FromString(request)
            state["spans"] += sum(len(ss.spans) for rs in msg.resource_spans for ss in rs.scope_spans)
        return b""

    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(export)},
    )
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 << 20)])
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def report():
        if args.count_file:
            with open(args.count_file, "w") as f:
                f.write(f"{state['spans']} {state['requests']}\n")

    loop.add_signal_handler(signal.SIGUSR1, report)
    await stop.wait()
    report()
    await server.stop(1)
    print(f"sink received {state['spans']} spans in {state['requests']} requests", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
