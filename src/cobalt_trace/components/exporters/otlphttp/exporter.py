"""POSTs each batch to `<endpoint>/v1/traces` over one pooled `httpx.AsyncClient` (HTTP/1.1
keep-alive), mapping statuses as the OTLP/HTTP specification says: 429/502/503/504 retry (with
`Retry-After`), any other non-2xx is permanent, a 2xx with `partial_success` is only logged."""

from __future__ import annotations

import asyncio

import httpx

from ....pipeline.component import Component
from ....pipeline.configtls import client_ssl_context
from ....pipeline.errors import PermanentError, RetryableError
from ....pipeline.exporterhelper import ExporterHelper, client_authenticator, log_partial_success
from ....wire.batch import SpanBatch
from .codec import compress, error_message, parse_retry_after, partial_success

__all__ = ["OTLPHttpExporter", "RETRYABLE_STATUSES"]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_THREAD_COMPRESS_BYTES = 256 * 1024  # compress bigger bodies off the event loop (zlib/zstd drop the GIL)
_CONTENT_TYPES = {"proto": "application/x-protobuf", "json": "application/json"}


def _encode_json(batch: SpanBatch) -> bytes:
    """OTLP/JSON via the shared codec in `wire.otlp_json`."""
    from ....wire.otlp_json import traces_to_json

    out = traces_to_json(batch)
    return out.encode() if isinstance(out, str) else bytes(out)


class OTLPHttpExporter(Component):
    def __init__(self, settings, config):
        super().__init__(settings, config)
        self.logger = settings.telemetry.child_logger(f"exporter.{settings.id}")
        self.url = config.traces_url
        self._helper = ExporterHelper(
            settings,
            self.send,
            timeout=config.timeout,
            retry=config.retry_on_failure,
            queue=config.sending_queue,
        )
        headers = {"Content-Type": _CONTENT_TYPES[config.encoding], "User-Agent": "cobalt-trace"}
        if config.compression not in ("", "none"):
            headers["Content-Encoding"] = config.compression
        headers.update({k: str(v) for k, v in config.headers.items()})
        self._headers = headers
        self._client: httpx.AsyncClient | None = None
        self._auth = None

    async def start(self, host) -> None:
        cfg = self.config
        self._auth = client_authenticator(host, cfg.auth)
        verify = client_ssl_context(cfg.tls) if self.url.startswith("https://") else False
        limits = httpx.Limits(
            max_connections=cfg.max_conns_per_host or None,
            max_keepalive_connections=0 if cfg.disable_keep_alives else (cfg.max_idle_conns or None),
            keepalive_expiry=cfg.idle_conn_timeout or None,
        )
        self._client = httpx.AsyncClient(
            verify=verify,
            timeout=cfg.timeout or None,
            limits=limits,
            proxy=cfg.proxy_url or None,
            trust_env=False,
        )
        await self._helper.start(host)

    async def consume(self, batch: SpanBatch) -> None:
        await self._helper.consume(batch)

    async def shutdown(self) -> None:
        await self._helper.shutdown()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _body(self, batch: SpanBatch) -> bytes:
        cfg = self.config
        data = _encode_json(batch) if cfg.encoding == "json" else batch.to_bytes()
        if cfg.compression in ("", "none"):
            return data
        level = cfg.compression_params.level
        if len(data) > _THREAD_COMPRESS_BYTES:
            return await asyncio.to_thread(compress, data, cfg.compression, level)
        return compress(data, cfg.compression, level)

    async def send(self, batch: SpanBatch) -> None:
        body = await self._body(batch)
        headers = self._headers
        if self._auth is not None:
            headers = {**headers, **self._auth.request_headers()}
        try:
            resp = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise RetryableError(f"failed to make an HTTP request to {self.url}: {exc!r}") from None
        ctype = resp.headers.get("content-type", "")
        if 200 <= resp.status_code < 300:
            rejected, message = partial_success(resp.content, ctype)
            log_partial_success(self.logger, rejected, message)
            return
        detail = error_message(resp.content, ctype)
        text = (
            f"error exporting items, request to {self.url} responded with HTTP Status Code {resp.status_code}"
        )
        if detail:
            text += f", Message={detail}"
        if resp.status_code in RETRYABLE_STATUSES:
            delay = None
            if resp.status_code in _RETRY_AFTER_STATUSES:
                delay = parse_retry_after(resp.headers.get("retry-after"))
            raise RetryableError(text, retry_after=delay)
        raise PermanentError(text)
