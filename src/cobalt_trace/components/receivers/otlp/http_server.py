"""OTLP/HTTP: a raw ASGI app served by uvicorn (httptools) inside the collector's event loop.

No web framework: one path, one method, two content types.  Status codes and bodies follow the
collector's `otlpreceiver/otlphttp.go`: 404 for other paths, 405 for other methods, 415 for other
content types (all text/plain), 400 for bodies that do not decode, and errors otherwise as a
`google.rpc.Status` in the request's encoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import grpc
import uvicorn

from ....pipeline.client import ClientInfo
from ....pipeline.configtls import server_ssl_context
from ....wire.batch import SpanBatch
from ....wire.errors import WireError
from .cors import CorsPolicy
from .decompress import BodyTooLarge, DecodingError, decompress
from .receiver import authenticate
from .statuses import ErrorStatus, status_for

__all__ = ["HttpTraceServer", "OtlpHttpApp"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_SHUTDOWN_GRACE = 5.0
_TEXT = b"text/plain; charset=utf-8"
_NOT_FOUND = b"404 page not found\n"
_METHOD_NOT_ALLOWED = b"405 method not allowed, supported: [POST]"
_UNSUPPORTED_TYPE = b"415 unsupported media type, supported: [application/json, application/x-protobuf]"
_SUCCESS = {PROTOBUF: b"", JSON: b'{"partialSuccess":{}}'}


class _ClientGone(Exception):
    pass


def _traces_from_json(body: bytes) -> bytes:
    try:
        from ....wire.otlp_json import traces_from_json
    except ImportError:
        raise WireError("OTLP/JSON is not supported by this build") from None
    try:
        return traces_from_json(body)
    except WireError:
        raise
    except (ValueError, TypeError) as exc:  # any JSON that does not decode is the sender's fault: 400
        raise WireError(f"invalid OTLP/JSON body: {exc}") from None


class OtlpHttpApp:
    """The ASGI application; `server` supplies the receiver, config, observer and authenticator."""

    def __init__(self, receiver, cfg, observer, authenticator=None):
        self._receiver = receiver
        self._cfg = cfg
        self._observer = observer
        self._auth = authenticator
        self._path = cfg.traces_path
        self._limit = cfg.max_request_body_size
        self._allowed_encodings = frozenset(cfg.compression_algorithms)
        self._cors = CorsPolicy(cfg.cors) if cfg.cors is not None else None
        self._want_headers = cfg.include_metadata or authenticator is not None
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in cfg.response_headers.items()]
        if not cfg.keep_alives_enabled:
            extra.append((b"connection", b"close"))
        self._extra_headers = extra

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        cors_headers: list[tuple[bytes, bytes]] = []
        try:
            cors_headers = await self._handle(scope, receive, send)
        except _ClientGone:
            return
        except Exception as exc:  # never let one request take the server down
            self._receiver.logger.error("HTTP export failed", exc_info=exc)
            await self._send(send, 500, _TEXT, b"500 internal server error\n", cors_headers)

    async def _handle(self, scope, receive, send) -> list[tuple[bytes, bytes]]:
        content_type = encoding = origin = acr_method = acr_headers = ""
        length: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-encoding":
                encoding = value.decode("latin-1")
            elif name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"access-control-request-method":
                acr_method = value.decode("latin-1")
            elif name == b"access-control-request-headers":
                acr_headers = value.decode("latin-1")
        method = scope["method"]
        cors: list[tuple[bytes, bytes]] = []
        if self._cors is not None:
            if method == "OPTIONS" and acr_method:
                await self._send(send, 204, None, b"", self._cors.preflight(origin, acr_method, acr_headers))
                return cors
            cors = self._cors.actual(origin)
        if scope["path"] != self._path:
            await self._send(send, 404, _TEXT, _NOT_FOUND, cors)
            return cors
        if method != "POST":
            await self._send(send, 405, _TEXT, _METHOD_NOT_ALLOWED, cors)
            return cors
        media = content_type.partition(";")[0].strip().lower()
        if media not in (PROTOBUF, JSON):
            await self._send(send, 415, _TEXT, _UNSUPPORTED_TYPE, cors)
            return cors
        as_json = media == JSON
        try:
            body = await self._read_body(receive, length)
            body = decompress(encoding, body, self._limit, self._allowed_encodings)
        except BodyTooLarge:
            status = ErrorStatus(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request body too large: the limit is {self._limit} bytes (max_request_body_size)",
                http=413,
            )
            await self._send_error(send, status, as_json, cors + [(b"connection", b"close")])
            return cors
        except DecodingError as exc:
            await self._send_error(
                send, ErrorStatus(grpc.StatusCode.INVALID_ARGUMENT, str(exc)), as_json, cors
            )
            return cors
        await self._export(scope, body, as_json, send, cors)
        return cors

    async def _export(self, scope, body: bytes, as_json: bool, send, cors) -> None:
        try:
            metadata = _metadata(scope["headers"]) if self._want_headers else {}
            auth = await authenticate(self._auth, metadata, self._observer) if self._auth is not None else {}
            batch = SpanBatch.from_bytes(_traces_from_json(body) if as_json else body)
            if batch.span_count:
                client = ClientInfo(
                    address=(scope.get("client") or ("",))[0],
                    metadata=metadata if self._cfg.include_metadata else {},
                    auth=auth,
                )
                await self._receiver.deliver(batch, client, self._observer)
        except Exception as exc:
            status = status_for(exc)
            if status.unexpected:
                self._receiver.logger.error("HTTP export failed", exc_info=exc)
            await self._send_error(send, status, as_json, cors)
            return
        content_type = JSON if as_json else PROTOBUF
        await self._send(send, 200, content_type.encode(), _SUCCESS[content_type], cors)

    async def _read_body(self, receive, declared: int | None) -> bytes:
        # Refuse early on the declared length, then keep counting: chunked bodies declare none.
        if declared is not None and declared > self._limit:
            raise BodyTooLarge
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self._limit:
                    raise BodyTooLarge
                parts.append(chunk)
            if not message.get("more_body", False):
                return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _send_error(self, send, status: ErrorStatus, as_json: bool, headers) -> None:
        headers = list(headers)
        retry_after = status.retry_after_header()
        if retry_after is not None:
            headers.append((b"retry-after", retry_after.encode()))
        content_type = (JSON if as_json else PROTOBUF).encode()
        await self._send(send, status.http_status, content_type, status.http_body(as_json), headers)

    async def _send(self, send, status: int, content_type: bytes | None, body: bytes, headers) -> None:
        out = [(b"content-length", str(len(body)).encode())]
        if content_type is not None:
            out.append((b"content-type", content_type))
        out += headers
        out += self._extra_headers
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})


def _metadata(raw_headers) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for name, value in raw_headers:
        grouped.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return {k: tuple(v) for k, v in grouped.items()}


class _EmbeddedServer(uvicorn.Server):
    """uvicorn on the caller's loop: signals stay with the collector, start-up is awaitable."""

    def __init__(self, config: uvicorn.Config):
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self):
        yield

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


def _listen(endpoint: str) -> socket.socket:
    host, _, port = endpoint.rpartition(":")
    host = host.strip("[]") or None  # empty host: every interface
    infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    # One socket, like Go's net.Listen: prefer IPv4 when a name resolves to both.
    family, kind, proto, _, address = sorted(infos, key=lambda i: i[0] != socket.AF_INET)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(
            exc.errno, f"otlp receiver: cannot listen for HTTP on {endpoint}: {exc.strerror}"
        ) from None
    return sock


class HttpTraceServer:
    def __init__(self, receiver, cfg, observer, authenticator=None):
        self._cfg = cfg
        self.app = OtlpHttpApp(receiver, cfg, observer, authenticator)
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> int:
        cfg = self._cfg
        sock = _listen(cfg.endpoint)
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            http="httptools",
            ws="none",
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=int(cfg.idle_timeout) or 60,
            timeout_graceful_shutdown=int(_SHUTDOWN_GRACE),
        )
        config.load()
        if cfg.tls is not None:
            config.ssl = server_ssl_context(cfg.tls)
        server = _EmbeddedServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"otlp-http:{cfg.endpoint}")
        ready = asyncio.create_task(server.ready.wait())
        await asyncio.wait((task, ready), return_when=asyncio.FIRST_COMPLETED)
        if not server.ready.is_set():
            ready.cancel()
            sock.close()
            task.result()  # raises why it stopped
            raise OSError(f"otlp receiver: HTTP server on {cfg.endpoint} stopped during start-up")
        self._server, self._task = server, task
        return port

    async def stop(self) -> None:
        server, task, self._server, self._task = self._server, self._task, None, None
        if server is None or task is None:
            return
        server.should_exit = True  # uvicorn stops accepting and lets open requests finish
        try:
            await asyncio.wait_for(task, _SHUTDOWN_GRACE + 2)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
