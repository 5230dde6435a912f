"""`otlp_http` / `otlphttp` exporter settings; keys and defaults as upstream `exporter/otlphttpexporter`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ....pipeline.auth import ClientAuthSettings
from ....pipeline.configtls import ClientTLS
from ....pipeline.configtypes import Duration
from ....pipeline.exporterhelper import QueueConfig, RetryConfig

__all__ = ["CompressionParams", "OTLPHttpConfig", "COMPRESSIONS"]

COMPRESSIONS = ("gzip", "zstd", "snappy", "zlib", "deflate", "lz4", "none", "")


@dataclass
class CompressionParams:
    level: int = 0  # 0 = the codec's default


@dataclass
class OTLPHttpConfig:
    endpoint: str = ""
    traces_endpoint: str = ""
    encoding: Literal["proto", "json"] = "proto"
    compression: str = "gzip"
    compression_params: CompressionParams = field(default_factory=CompressionParams)
    headers: dict[str, str] = field(default_factory=dict)
    timeout: Duration = Duration(30)
    tls: ClientTLS = field(default_factory=ClientTLS)
    proxy_url: str = ""
    max_idle_conns: int = 100
    max_idle_conns_per_host: int = 0
    max_conns_per_host: int = 0
    idle_conn_timeout: Duration = Duration(90)
    disable_keep_alives: bool = False
    # Accepted for config compatibility; httpx manages buffers and HTTP/2 pings itself.
    read_buffer_size: int = 0
    write_buffer_size: int = 512 * 1024
    http2_read_idle_timeout: Duration = Duration(0)
    http2_ping_timeout: Duration = Duration(0)
    cookies: Any = None
    auth: ClientAuthSettings | None = None
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)
    sending_queue: QueueConfig = field(default_factory=QueueConfig)

    def validate(self) -> list[str]:
        errors = []
        if not self.endpoint and not self.traces_endpoint:
            errors.append(
                'endpoint: at least one endpoint must be specified ("endpoint" or "traces_endpoint")'
            )
        for key in ("endpoint", "traces_endpoint", "proxy_url"):
            url = getattr(self, key)
            if url:
                parts = urlsplit(url)
                if parts.scheme not in ("http", "https") or not parts.netloc:
                    errors.append(f"{key}: {url!r} must be a URL such as https://collector:4318")
        if self.compression not in COMPRESSIONS:
            errors.append(
                f"compression: unsupported compression type {self.compression!r}; "
                f"expected one of {', '.join(c for c in COMPRESSIONS if c)}"
            )
        if self.timeout < 0:
            errors.append("timeout: must not be negative")
        # auth, tls, retry_on_failure and sending_queue validate themselves (configtypes.decode)
        return errors

    @property
    def traces_url(self) -> str:
        if self.traces_endpoint:
            return self.traces_endpoint
        return self.endpoint.rstrip("/") + "/v1/traces"
