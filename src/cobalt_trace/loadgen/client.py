"""Sends a `RequestPool`'s requests to an OTLP endpoint over gRPC or HTTP and reports progress."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from .pool import RequestPool

__all__ = ["LoadConfig", "LoadResult", "run_load"]

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@dataclass
class LoadConfig:
    endpoint: str = "127.0.0.1:4317"
    protocol: str = "grpc"  # grpc | http
    rate: float = 0.0  # spans/s; 0 = as fast as the endpoint takes them
    duration: float = 10.0
    spans_per_request: int = 1024
    concurrency: int = 8
    pool_size: int = 16
    ca_file: str = ""
    progress: bool = True
    seed: int = 1


@dataclass
class LoadResult:
    sent_spans: int = 0
    sent_requests: int = 0
    failed_requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def spans_per_second(self) -> float:
        return self.sent_spans / self.seconds if self.seconds else 0.0


async def _grpc_sender(cfg: LoadConfig):
    target = cfg.endpoint.removeprefix("http://").removeprefix("https://")
    if cfg.ca_file or cfg.endpoint.startswith("https://"):
        root = Path(cfg.ca_file).read_bytes() if cfg.ca_file else None
        channel = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(root))
    else:
        channel = grpc.aio.insecure_channel(target)
    call = channel.unary_unary(EXPORT_METHOD)

    async def send(data: bytes) -> str | None:
        try:
            await call(data, timeout=30)
            return None
        except grpc.aio.AioRpcError as exc:
            return exc.code().name

    return send, channel.close


async def _http_sender(cfg: LoadConfig):
    import httpx

    base = cfg.endpoint if "://" in cfg.endpoint else f"http://{cfg.endpoint}"
    url = base.rstrip("/") + ("" if base.rstrip("/").endswith("/v1/traces") else "/v1/traces")
    client = httpx.AsyncClient(
        verify=cfg.ca_file or True, timeout=30, limits=httpx.Limits(max_connections=cfg.concurrency)
    )
    headers = {"Content-Type": "application/x-protobuf"}

    async def send(data: bytes) -> str | None:
        try:
            resp = await client.post(url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return None if resp.status_code == 200 else f"HTTP {resp.status_code}"

    return send, client.aclose


async def run_load(cfg: LoadConfig, pool: RequestPool | None = None) -> LoadResult:
    pool = pool or RequestPool(cfg.spans_per_request, cfg.pool_size, seed=cfg.seed)
    send, close = await (_grpc_sender(cfg) if cfg.protocol == "grpc" else _http_sender(cfg))
    result = LoadResult()
    start = time.monotonic()
    deadline = start + cfg.duration
    interval = cfg.spans_per_request / cfg.rate if cfg.rate > 0 else 0.0
    next_slot = [start]

    async def worker():
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            if interval:
                slot = next_slot[0]
                next_slot[0] = max(slot, now - 1.0) + interval
                if slot > now:
                    await asyncio.sleep(slot - now)
                    if time.monotonic() >= deadline:
                        return
            data, count = pool.next()
            err = await send(data)
            if err is None:
                result.sent_spans += count
                result.sent_requests += 1
            else:
                result.failed_requests += 1
                result.errors[err] = result.errors.get(err, 0) + 1
                await asyncio.sleep(0.05)

    async def progress():
        last, last_t = 0, start
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            rate = (result.sent_spans - last) / (now - last_t)
            last, last_t = result.sent_spans, now
            errs = f" errors={result.failed_requests}" if result.failed_requests else ""
            print(
                f"\rloadgen: {now - start:5.1f}s sent={result.sent_spans:,} spans rate={rate:,.0f}/s{errs}   ",
                end="",
                file=sys.stderr,
                flush=True,
            )

    ticker = asyncio.create_task(progress()) if cfg.progress else None
    try:
        await asyncio.gather(*(worker() for _ in range(max(1, cfg.concurrency))))
    finally:
        result.seconds = time.monotonic() - start
        if ticker:
            ticker.cancel()
            print(file=sys.stderr)
        await close()
    return result
