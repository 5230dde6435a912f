"""`cobalt-trace`: run a collector, validate its config, list components, generate load, demo,
serve and query stored traces."""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["main"]


def _cmd_collector(args) -> int:
    from ..collector.app import run_collector

    return run_collector(args.config)


def _cmd_validate(args) -> int:
    from ..collector.app import validate_config

    errors = validate_config(args.config)
    if errors:
        print("Error: invalid configuration:", file=sys.stderr)
        for e in errors:
            print(f"  {e}", file=sys.stderr)
        return 1
    print("configuration is valid")
    return 0


def _cmd_components(args) -> int:
    from ..components import builtin_registry
    from ..pipeline.component import Kind

    registry = builtin_registry()
    for kind in (Kind.RECEIVER, Kind.PROCESSOR, Kind.EXPORTER, Kind.EXTENSION):
        print(f"{kind.value}:")
        for f in registry.factories(kind):
            alias = f" (alias: {', '.join(f.aliases)})" if f.aliases else ""
            print(f"  {f.type}{alias}  [{f.stability}] {f.description}")
    return 0


def _cmd_loadgen(args) -> int:
    from ..loadgen.client import LoadConfig, run_load

    cfg = LoadConfig(
        endpoint=args.endpoint,
        protocol=args.protocol,
        rate=args.rate,
        duration=args.duration,
        spans_per_request=args.spans_per_request,
        concurrency=args.concurrency,
        ca_file=args.ca_file,
    )
    try:
        result = asyncio.run(run_load(cfg))
    except KeyboardInterrupt:
        return 130
    print(
        f"sent {result.sent_spans:,} spans in {result.sent_requests:,} requests over {result.seconds:.1f}s "
        f"({result.spans_per_second:,.0f} spans/s); failed requests: {result.failed_requests}"
        + (f" {result.errors}" if result.errors else "")
    )
    return 0 if result.sent_requests else 1


def _cmd_demo(args) -> int:
    from pathlib import Path

    from ..demo.run import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            duration=args.duration,
            rate=args.rate,
            error_rate=args.error_rate,
            slow_rate=args.slow_rate,
            transport=args.transport,
            state_dir=Path(args.state_dir),
            ui=args.ui,
            decision_wait=args.decision_wait,
            seed=args.seed,
        )
    )


def _cmd_query(args) -> int:
    from .traces import run_query

    return run_query(args.config)


def _cmd_traces_get(args) -> int:
    from .traces import QueryClient, api_base, run_client, traces_get

    return run_client(traces_get, QueryClient(api_base(args.api)), args.id, args.json, sys.stdout)


def _cmd_traces_search(args) -> int:
    from .traces import QueryClient, SearchOptions, api_base, run_client, traces_search

    opts = SearchOptions(
        service=args.service,
        operation=args.operation,
        query=args.q,
        min_duration=args.min_duration,
        max_duration=args.max_duration,
        since=args.since,
        start=args.start,
        end=args.end,
        limit=args.limit,
    )
    return run_client(traces_search, QueryClient(api_base(args.api)), opts, args.json, sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cobalt-trace", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser(
        "collector", help="run a collector (gateway or central) from OpenTelemetry Collector YAML"
    )
    c.add_argument(
        "--config",
        action="append",
        required=True,
        metavar="FILE",
        help="config file or URI (yaml:..., env:VAR, file:PATH); repeat to merge",
    )
    c.set_defaults(func=_cmd_collector)

    v = sub.add_parser("validate", help="check a config without starting it; lists every error")
    v.add_argument("--config", action="append", required=True, metavar="FILE")
    v.set_defaults(func=_cmd_validate)

    k = sub.add_parser("components", help="list the built-in component types")
    k.set_defaults(func=_cmd_components)

    g = sub.add_parser("loadgen", help="send realistic OpenStack traces over OTLP")
    g.add_argument("--endpoint", default="127.0.0.1:4317", help="host:port (gRPC) or URL (HTTP)")
    g.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    g.add_argument("--rate", type=float, default=0.0, help="spans per second; 0 = as fast as accepted")
    g.add_argument("--duration", type=float, default=10.0, help="seconds")
    g.add_argument("--spans-per-request", type=int, default=1024)
    g.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    g.add_argument("--ca-file", default="", help="CA certificate for a TLS endpoint")
    g.set_defaults(func=_cmd_loadgen)

    d = sub.add_parser(
        "demo",
        help="run CobaltCore's tracing end to end on this machine: three clusters, their collectors, "
        "simulated OpenStack services and a workload",
    )
    d.add_argument(
        "--duration", type=float, default=0.0, help="seconds of workload, then stop (0 = until Ctrl-C)"
    )
    d.add_argument("--rate", type=float, default=2.0, help="user flows per second (server boot, ...)")
    d.add_argument(
        "--error-rate", type=float, default=0.05, help="fraction of flows that fail (5xx, RPC timeout)"
    )
    d.add_argument("--slow-rate", type=float, default=0.05, help="fraction of flows slower than 1 s")
    d.add_argument(
        "--transport",
        choices=("auto", "rabbitmq", "memory"),
        default="auto",
        help="oslo.messaging transport: a private rabbitmq-server when installed (auto), or kombu's "
        "filesystem transport in memory",
    )
    d.add_argument("--state-dir", default=".demo", help="certificates, trace store, logs (kept between runs)")
    d.add_argument("--ui", default="127.0.0.1:3200", help="address of the UI and query API")
    d.add_argument("--decision-wait", default="5s", help="tail sampling decision_wait (the seed: 30s)")
    d.add_argument("--seed", type=int, default=0, help="random seed of the workload")
    d.set_defaults(func=_cmd_demo)

    q = sub.add_parser(
        "query",
        help="serve only the query side of a collector config: its trace_store and trace_query "
        "extensions (browse a store after its collector stopped)",
    )
    q.add_argument("--config", action="append", required=True, metavar="FILE", help="as for collector")
    q.set_defaults(func=_cmd_query)

    t = sub.add_parser("traces", help="read traces from a query API (trace_query extension)")
    tsub = t.add_subparsers(dest="traces_command", required=True)
    api_help = "query API base URL (default: $COBALT_TRACE_API or http://127.0.0.1:3200)"
    tg = tsub.add_parser("get", help="a trace as a span tree, or every trace of an OpenStack request id")
    tg.add_argument("id", metavar="TRACE_ID|REQUEST_ID", help="hex trace id, or a request id such as req-...")
    tg.add_argument("--api", help=api_help)
    tg.add_argument("--json", action="store_true", help="print the trace as OTLP JSON (request: API JSON)")
    tg.set_defaults(func=_cmd_traces_get)
    ts = tsub.add_parser("search", help="find traces by service, operation, duration, time or TraceQL")
    ts.add_argument("--api", help=api_help)
    ts.add_argument("--service", help="a span of this service (resource.service.name)...")
    ts.add_argument("--operation", help="...with this span name")
    ts.add_argument("-q", "--query", dest="q", metavar="TRACEQL", help="e.g. '{ status = error }'")
    ts.add_argument("--min-duration", metavar="D", help="trace at least this long (100ms, 1.5s)")
    ts.add_argument("--max-duration", metavar="D", help="trace at most this long")
    ts.add_argument("--since", metavar="D", help="only the last D (15m, 1h, 24h)")
    ts.add_argument("--start", help="Unix seconds or 2024-01-02T15:04:05Z")
    ts.add_argument("--end", help="Unix seconds or 2024-01-02T15:04:05Z")
    ts.add_argument("--limit", type=int, default=20, help="at most this many traces (default 20, max 1000)")
    ts.add_argument("--json", action="store_true", help="print the API's JSON")
    ts.set_defaults(func=_cmd_traces_search)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
