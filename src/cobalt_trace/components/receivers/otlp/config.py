"""`otlp` receiver settings; keys and defaults as the collector's `otlpreceiver`, `configgrpc`
and `confighttp`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ....pipeline.auth import ServerAuthSettings
from ....pipeline.configtls import ServerTLS
from ....pipeline.configtypes import Duration

__all__ = [
    "CORSConfig",
    "DEFAULT_COMPRESSION_ALGORITHMS",
    "GRPCServerConfig",
    "HTTPServerConfig",
    "KeepaliveConfig",
    "KeepaliveEnforcementPolicy",
    "KeepaliveServerParameters",
    "OtlpReceiverConfig",
    "Protocols",
]

MIB = 1024 * 1024

# "" means an uncompressed body; listed so an explicit list can forbid plain bodies.
DEFAULT_COMPRESSION_ALGORITHMS = ("", "gzip", "zstd", "zlib", "snappy", "deflate", "lz4")


@dataclass
class KeepaliveServerParameters:
    max_connection_idle: Duration | None = None
    max_connection_age: Duration | None = None
    max_connection_age_grace: Duration | None = None
    time: Duration | None = None
    timeout: Duration | None = None


@dataclass
class KeepaliveEnforcementPolicy:
    min_time: Duration | None = None
    permit_without_stream: bool = False


@dataclass
class KeepaliveConfig:
    server_parameters: KeepaliveServerParameters | None = None
    enforcement_policy: KeepaliveEnforcementPolicy | None = None


def _check_endpoint(endpoint: str, transport: str = "tcp") -> list[str]:
    if transport == "unix":
        return [] if endpoint else ["endpoint: a socket path is required for transport unix"]
    host, sep, port = endpoint.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        return [f"endpoint: {endpoint!r} must be host:port (port 0-65535)"]
    return []


@dataclass
class GRPCServerConfig:
    endpoint: str = "localhost:4317"
    transport: Literal["tcp", "tcp4", "tcp6", "unix"] = "tcp"
    tls: ServerTLS | None = None
    max_recv_msg_size_mib: int = 0  # 0: grpc's default of 4 MiB
    max_concurrent_streams: int = 0  # 0: unlimited
    # Accepted for compatibility; grpc core sizes its own buffers.
    read_buffer_size: int = 512 * 1024
    write_buffer_size: int = 0
    keepalive: KeepaliveConfig | None = None
    include_metadata: bool = False
    auth: ServerAuthSettings | None = None

    def validate(self) -> list[str]:
        errors = _check_endpoint(self.endpoint, self.transport)
        for name in (
            "max_recv_msg_size_mib",
            "max_concurrent_streams",
            "read_buffer_size",
            "write_buffer_size",
        ):
            if getattr(self, name) < 0:
                errors.append(f"{name}: must not be negative")
        if self.max_recv_msg_size_mib * MIB >= 2**31:
            errors.append("max_recv_msg_size_mib: must be below 2048")
        return errors


@dataclass
class CORSConfig:
    allowed_origins: list[str] = field(default_factory=list)
    allowed_headers: list[str] = field(default_factory=list)
    exposed_headers: list[str] = field(default_factory=list)
    max_age: int = 0


@dataclass
class HTTPServerConfig:
    endpoint: str = "localhost:4318"
    tls: ServerTLS | None = None
    cors: CORSConfig | None = None
    auth: ServerAuthSettings | None = None
    max_request_body_size: int = 20 * MIB
    include_metadata: bool = False
    response_headers: dict[str, str] = field(default_factory=dict)
    compression_algorithms: list[str] = field(default_factory=lambda: list(DEFAULT_COMPRESSION_ALGORITHMS))
    read_timeout: Duration = Duration(0)
    read_header_timeout: Duration = Duration(60)
    write_timeout: Duration = Duration(30)
    idle_timeout: Duration = Duration(60)
    keep_alives_enabled: bool = True
    traces_url_path: str = "/v1/traces"
    # Accepted so shared configs load; this receiver serves traces only.
    metrics_url_path: str = "/v1/metrics"
    logs_url_path: str = "/v1/logs"

    def validate(self) -> list[str]:
        errors = _check_endpoint(self.endpoint)
        if self.max_request_body_size <= 0:
            errors.append("max_request_body_size: must be positive")
        unknown = [a for a in self.compression_algorithms if a not in DEFAULT_COMPRESSION_ALGORITHMS]
        if unknown:
            errors.append(
                f"compression_algorithms: unsupported {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join(map(repr, DEFAULT_COMPRESSION_ALGORITHMS))}"
            )
        return errors

    @property
    def traces_path(self) -> str:
        """The path served, with the leading "/" upstream adds when it is missing."""
        path = self.traces_url_path or "/v1/traces"
        return path if path.startswith("/") else "/" + path


@dataclass
class Protocols:
    # Annotated without `| None` on purpose: the config decoder then turns a key present with a
    # null value (`grpc:`) into the defaults, while an absent key keeps `None` = disabled.
    grpc: GRPCServerConfig = None  # type: ignore[assignment]
    http: HTTPServerConfig = None  # type: ignore[assignment]


@dataclass
class OtlpReceiverConfig:
    protocols: Protocols = field(default_factory=Protocols)

    def validate(self) -> list[str]:
        # the protocols, their tls and auth validate themselves (configtypes.decode)
        if self.protocols.grpc is None and self.protocols.http is None:
            return ["protocols: must specify at least one protocol when using the OTLP receiver"]
        return []
