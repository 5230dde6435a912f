"""A tiny HTTP/1.1 server for operational endpoints (health, self-metrics).

These endpoints are polled a few times a minute by probes and Prometheus; an asyncio stream
server with a strict little parser is all they need, and keeps them off the data path's
uvicorn instance.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from http import HTTPStatus

__all__ = ["Response", "start_http", "split_endpoint"]

log = logging.getLogger(__name__)

Response = tuple[int, dict[str, str], bytes]
Handler = Callable[[str, str], Awaitable[Response] | Response]

_MAX_HEADER_BYTES = 16 * 1024


def split_endpoint(endpoint: str, default_port: int) -> tuple[str, int]:
    """`host:port`, `:port` or `[::1]:port` → (host, port); an empty host means all interfaces."""
    host, _, port = endpoint.rpartition(":")
    if not _:
        return endpoint or "localhost", default_port
    host = host.strip("[]")
    try:
        return host or "0.0.0.0", int(port)
    except ValueError:
        raise ValueError(f"invalid endpoint {endpoint!r}: port must be a number") from None


async def start_http(host: str, port: int, handler: Handler, ssl_context: ssl.SSLContext | None = None):
    """Serve `handler(method, path)`; returns the `asyncio.Server` (port 0 picks a free port)."""

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=60)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                    return
                if len(head) > _MAX_HEADER_BYTES:
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3:
                    await _write(writer, (400, {}, b"bad request line\n"), keep_alive=False)
                    return
                method, target, _version = parts
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(min(length, 1 << 20))
                try:
                    result = handler(method, target)
                    if asyncio.iscoroutine(result):
                        result = await result
                except Exception:
                    log.exception("handler failed for %s %s", method, target)
                    result = (500, {"Content-Type": "text/plain"}, b"internal error\n")
                keep = headers.get("connection", "").lower() != "close"
                await _write(writer, result, keep_alive=keep, head_only=method == "HEAD")
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    return await asyncio.start_server(on_client, host, port, ssl=ssl_context)


async def _write(writer, result: Response, *, keep_alive: bool, head_only: bool = False) -> None:
    status, headers, body = result
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    out = [f"HTTP/1.1 {status} {reason}"]
    headers = {"Content-Length": str(len(body)), **headers}
    headers["Connection"] = "keep-alive" if keep_alive else "close"
    out.extend(f"{k}: {v}" for k, v in headers.items())
    writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body))
    await writer.drain()
