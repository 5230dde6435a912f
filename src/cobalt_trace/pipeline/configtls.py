"""TLS settings shared by servers (receivers) and clients (exporters): the collector's `configtls`.

Keys and defaults as upstream: TLS is on unless `insecure: true` (clients); `min_version` "1.2".
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClientTLS", "ServerTLS", "client_ssl_context", "server_ssl_context", "read_pem"]

_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


def _check_files(obj, names: tuple[str, ...]) -> list[str]:
    errors = []
    for n in names:
        path = getattr(obj, n)
        if path and not Path(path).is_file():
            errors.append(f"{n}: file {path!r} does not exist")
    return errors


def _check_versions(obj) -> list[str]:
    errors = []
    for n in ("min_version", "max_version"):
        v = getattr(obj, n)
        if v and v not in _VERSIONS:
            errors.append(f"{n}: unsupported TLS version {v!r}; expected one of 1.0, 1.1, 1.2, 1.3")
    return errors


@dataclass
class _TLSCommon:
    ca_file: str = ""
    ca_pem: str = ""
    cert_file: str = ""
    cert_pem: str = ""
    key_file: str = ""
    key_pem: str = ""
    min_version: str = "1.2"
    max_version: str = ""
    include_system_ca_certs_pool: bool = False
    reload_interval: str = ""
    cipher_suites: list[str] | None = None
    curve_preferences: list[str] | None = None

    def validate(self) -> list[str]:
        errors = _check_files(self, ("ca_file", "cert_file", "key_file")) + _check_versions(self)
        has_cert = bool(self.cert_file or self.cert_pem)
        has_key = bool(self.key_file or self.key_pem)
        if has_cert != has_key:
            errors.append("cert_file: certificate and key must be given together")
        return errors


@dataclass
class ClientTLS(_TLSCommon):
    insecure: bool = False
    insecure_skip_verify: bool = False
    server_name_override: str = ""


@dataclass
class ServerTLS(_TLSCommon):
    client_ca_file: str = ""
    client_ca_file_reload: bool = False

    def validate(self) -> list[str]:
        errors = super().validate() + _check_files(self, ("client_ca_file",))
        if not (self.cert_file or self.cert_pem):
            errors.append("cert_file: a server certificate and key are required when tls is set")
        return errors


def read_pem(file: str, pem: str) -> bytes | None:
    if pem:
        return pem.encode()
    if file:
        return Path(file).read_bytes()
    return None


def _versions(ctx: ssl.SSLContext, cfg: _TLSCommon) -> None:
    ctx.minimum_version = _VERSIONS.get(cfg.min_version or "1.2", ssl.TLSVersion.TLSv1_2)
    if cfg.max_version:
        ctx.maximum_version = _VERSIONS[cfg.max_version]


def client_ssl_context(cfg: ClientTLS) -> ssl.SSLContext:
    """An `ssl.SSLContext` for HTTP clients (otlphttp exporter)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _versions(ctx, cfg)
    if cfg.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ca = read_pem(cfg.ca_file, cfg.ca_pem)
        if ca:
            ctx.load_verify_locations(cadata=ca.decode())
        if not ca or cfg.include_system_ca_certs_pool:
            ctx.load_default_certs()
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
    return ctx


def server_ssl_context(cfg: ServerTLS) -> ssl.SSLContext:
    """An `ssl.SSLContext` for HTTP servers (otlp receiver's HTTP protocol)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _versions(ctx, cfg)
    ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
    if cfg.client_ca_file:
        ctx.load_verify_locations(cafile=cfg.client_ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
