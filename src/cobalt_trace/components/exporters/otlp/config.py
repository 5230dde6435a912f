"""`otlp_grpc` / `otlp` exporter settings; keys and defaults as upstream `exporter/otlpexporter`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ....pipeline.auth import ClientAuthSettings
from ....pipeline.configtls import ClientTLS
from ....pipeline.configtypes import Duration
from ....pipeline.exporterhelper import QueueConfig, RetryConfig

__all__ = ["KeepaliveConfig", "OTLPGrpcConfig", "split_endpoint"]

_SUPPORTED_COMPRESSION = ("gzip", "none", "")
_UNSUPPORTED_CODECS = ("zstd", "snappy")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d{1,5})$")


@dataclass
class KeepaliveConfig:
    time: Duration = Duration(0)
    timeout: Duration = Duration(0)
    permit_without_stream: bool = False


@dataclass
class OTLPGrpcConfig:
    endpoint: str = ""
    tls: ClientTLS = field(default_factory=ClientTLS)
    compression: str = "gzip"
    headers: dict[str, str] = field(default_factory=dict)
    timeout: Duration = Duration(5)
    balancer_name: str = "round_robin"
    authority: str = ""
    wait_for_ready: bool = False
    keepalive: KeepaliveConfig | None = None
    # Accepted for config compatibility; grpcio manages its own transport buffers.
    write_buffer_size: int = 0
    read_buffer_size: int = 0
    auth: ClientAuthSettings | None = None
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)
    sending_queue: QueueConfig = field(default_factory=QueueConfig)

    def validate(self) -> list[str]:
        errors = []
        if not self.endpoint:
            errors.append('endpoint: requires a non-empty "endpoint"')
        else:
            try:
                split_endpoint(self.endpoint)
            except ValueError as exc:
                errors.append(f"endpoint: {exc}")
        if self.compression in _UNSUPPORTED_CODECS:
            errors.append(
                f"compression: {self.compression!r} is not supported by this gRPC exporter: grpcio for "
                "Python cannot register custom compression codecs; use 'gzip' or 'none'"
            )
        elif self.compression not in _SUPPORTED_COMPRESSION:
            errors.append(
                f"compression: unsupported compression type {self.compression!r}; use 'gzip' or 'none'"
            )
        if self.balancer_name not in ("round_robin", "pick_first"):
            errors.append(
                f"balancer_name: unsupported balancer {self.balancer_name!r}; use round_robin or pick_first"
            )
        if self.timeout < 0:
            errors.append("timeout: must not be negative")
        # auth, tls, retry_on_failure and sending_queue validate themselves (configtypes.decode)
        return errors

    @property
    def target(self) -> str:
        host, port, _ = split_endpoint(self.endpoint)
        return f"{host}:{port}"

    @property
    def use_tls(self) -> bool:
        _, _, scheme = split_endpoint(self.endpoint)
        if scheme == "https":
            return True
        if scheme == "http":
            return False
        return not self.tls.insecure


def split_endpoint(endpoint: str) -> tuple[str, int, str]:
    """`host:port` with an optional `http://`, `https://` or `dns:///` prefix → (host, port, scheme)."""
    text, scheme = endpoint.strip(), ""
    for prefix in ("http://", "https://"):
        if text.startswith(prefix):
            scheme, text = prefix[:-3], text[len(prefix) :]
    if text.startswith("dns://"):
        text = re.sub(r"^dns://[^/]*/", "", text)
    text = text.rstrip("/")
    m = _HOST_PORT.match(text)
    if not m:
        raise ValueError(f"{endpoint!r} is not host:port (for example otel-collector:4317)")
    port = int(m.group(2))
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range in {endpoint!r}")
    return m.group(1), port, scheme
