"""Processes and clients for the reliability scenarios, shared by `tests/reliability` and
`bench/reliability.py`: the recording sink, gateway configs, an OTLP/gRPC client that retries
like an SDK, RSS sampling and the loss/duplicate count."""

from __future__ import annotations

import array
import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.rpc import error_details_pb2, status_pb2

from cobalt_testkit import free_port, wait_port

HERE = Path(__file__).resolve().parent
EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
RETRYABLE = {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED", "CANCELLED"}

__all__ = [
    "free_port",
    "wait_port",
    "wait_until",
    "SinkProcess",
    "read_ids",
    "Tally",
    "tally",
    "OtlpClient",
    "RssSampler",
    "rss_bytes",
    "gateway_yaml",
]


async def wait_until(predicate, timeout: float, what: str, interval: float = 0.1) -> float:
    """Poll `predicate` until true; returns the seconds it took.  TimeoutError names `what`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f}s")
        await asyncio.sleep(interval)
    return time.monotonic() - start


class SinkProcess:
    """`span_sink.py` in a subprocess, appending received span ids to `ids_file`."""

    def __init__(
        self, port: int, ids_file: Path, *, delay: float = 0.0, token: str = "", log: Path | None = None
    ):
        self.port = port
        self.ids_file = ids_file
        args = [sys.executable, str(HERE / "span_sink.py"), "--port", str(port), "--ids-file", str(ids_file)]
        if delay:
            args += ["--delay", str(delay)]
        if token:
            args += ["--token", token]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=log.open("ab") if log else subprocess.DEVNULL
        )
        wait_port(port, self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def read_ids(path: Path) -> array.array:
    ids = array.array("Q")
    if path.exists():
        data = path.read_bytes()
        ids.frombytes(data[: len(data) - len(data) % 8])
    return ids


@dataclass
class Tally:
    expected: int
    received: int
    unique: int
    lost: int
    duplicates: int


def tally(ids_file: Path, expected_ids) -> Tally:
    """Compare what the sink recorded with the span ids that must have arrived."""
    got = read_ids(ids_file)
    unique = set(got)
    expected = set(expected_ids)
    return Tally(
        expected=len(expected),
        received=len(got),
        unique=len(unique),
        lost=len(expected - unique),
        duplicates=len(got) - len(unique),
    )


@dataclass
class SendResult:
    code: str | None  # None: accepted
    retry_after: float | None = None


@dataclass
class ClientStats:
    accepted_requests: int = 0
    accepted_spans: int = 0
    codes: Counter = field(default_factory=Counter)  # gRPC codes of refused attempts
    with_retry_info: int = 0
    without_retry_info: dict = field(default_factory=dict)  # code -> one example message


class OtlpClient:
    """Raw-bytes OTLP/gRPC export calls; `send_until_accepted` retries retryable codes the way an
    SDK does (exponential backoff, or the server's RetryInfo delay)."""

    def __init__(self, port: int, *, token: str = "", timeout: float = 10.0):
        self._channel = grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20)]
        )
        self._call = self._channel.unary_unary(EXPORT_METHOD)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        self._timeout = timeout
        self.stats = ClientStats()

    async def close(self) -> None:
        await self._channel.close()

    async def send(self, data: bytes, metadata=None) -> SendResult:
        try:
            await self._call(data, timeout=self._timeout, metadata=metadata or self._metadata)
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
            delay = _retry_delay(exc.trailing_metadata())
            self.stats.codes[code] += 1
            if delay is not None:
                self.stats.with_retry_info += 1
            else:
                self.stats.without_retry_info.setdefault(code, exc.details())
            return SendResult(code, delay)
        return SendResult(None)

    async def send_until_accepted(self, data: bytes, spans: int, give_up: float = 120.0) -> bool:
        backoff, deadline = 0.05, time.monotonic() + give_up
        while True:
            result = await self.send(data)
            if result.code is None:
                self.stats.accepted_requests += 1
                self.stats.accepted_spans += spans
                return True
            if result.code not in RETRYABLE or time.monotonic() > deadline:
                return False
            await asyncio.sleep(result.retry_after if result.retry_after is not None else backoff)
            backoff = min(backoff * 2, 1.0)


def _retry_delay(trailers) -> float | None:
    for key, value in trailers or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples a process's RSS every `interval` seconds in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid = pid
        self.peak = 0
        self.samples = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_bytes(self.pid)
            if value:
                self.peak = max(self.peak, value)
                self.samples += 1
            self._stop.wait(self._interval)


def gateway_yaml(
    *,
    receiver_port: int,
    sink_port: int,
    processors: list[str] | None = None,
    processor_config: str = "",
    queue: str = "{num_consumers: 4, queue_size: 1000}",
    retry: str = "{initial_interval: 100ms, max_interval: 1s, max_elapsed_time: 0}",
    extensions: str = "",
    extension_ids: list[str] | None = None,
    receiver_extra: str = "",
    exporter_extra: str = "",
    http_port: int | None = None,
    metrics_port: int | None = None,
) -> str:
    """A gateway: otlp receiver → processors → otlp exporter to the sink; self-metrics only on
    `metrics_port`."""
    metrics = f"{{address: 127.0.0.1:{metrics_port}}}" if metrics_port else "{level: none}"
    http = f"\n      http:\n        endpoint: 127.0.0.1:{http_port}{receiver_extra}" if http_port else ""
    return f"""
extensions:
{extensions or "  {}"}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{receiver_port}
        max_recv_msg_size_mib: 64{receiver_extra}{http}
processors:
{processor_config or "  {}"}
exporters:
  otlp:
    endpoint: 127.0.0.1:{sink_port}
    tls: {{insecure: true}}
    retry_on_failure: {retry}
    sending_queue: {queue}{exporter_extra}
service:
  extensions: [{", ".join(extension_ids or [])}]
  telemetry:
    metrics: {metrics}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [{", ".join(processors or [])}]
      exporters: [otlp]
"""


def kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
