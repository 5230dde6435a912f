"""Errors become gRPC and HTTP statuses here, once, at the edge (`otlpreceiver/internal/errors`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2, json_format
from google.rpc import error_details_pb2, status_pb2

from ....pipeline.auth import AuthenticationError
from ....pipeline.errors import ConsumerError
from ....wire.errors import WireError

__all__ = ["AuthenticationError", "ErrorStatus", "status_for"]

# How upstream turns a gRPC code into an HTTP status (`GetHTTPStatusCodeFromStatus`).
_HTTP_FOR_CODE = {
    grpc.StatusCode.CANCELLED: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
    grpc.StatusCode.ABORTED: 503,
    grpc.StatusCode.OUT_OF_RANGE: 503,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 503,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNIMPLEMENTED: 404,
}


@dataclass(frozen=True, slots=True)
class ErrorStatus:
    code: grpc.StatusCode
    message: str
    retry_after: float | None = None
    unexpected: bool = False  # a bug or an unknown failure: worth a log line with traceback
    http: int | None = None  # an HTTP-only status (413) that no gRPC code maps to

    @property
    def http_status(self) -> int:
        return self.http or _HTTP_FOR_CODE.get(self.code, 500)

    def to_proto(self) -> status_pb2.Status:
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        if self.retry_after is not None:
            seconds = max(0.0, self.retry_after)
            whole = int(seconds)
            delay = duration_pb2.Duration(seconds=whole, nanos=int(round((seconds - whole) * 1e9)))
            packed = any_pb2.Any()
            packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
            status.details.append(packed)
        return status

    def grpc_trailers(self) -> tuple[tuple[str, bytes], ...]:
        """Rich status details (RetryInfo) travel in `grpc-status-details-bin`, as grpc-go sends them."""
        if self.retry_after is None:
            return ()
        return (("grpc-status-details-bin", self.to_proto().SerializeToString()),)

    def http_body(self, json: bool) -> bytes:
        status = self.to_proto()
        if json:
            return json_format.MessageToJson(status, indent=None).encode()
        return status.SerializeToString()

    def retry_after_header(self) -> str | None:
        """`Retry-After` goes only with 429/503 and only when the error carries a delay."""
        if self.retry_after is None or self.http_status not in (429, 503):
            return None
        return str(max(0, math.ceil(self.retry_after)))


def _code_named(name: str) -> grpc.StatusCode | None:
    try:
        return grpc.StatusCode[name.upper()]
    except KeyError:
        return None


def status_for(exc: BaseException) -> ErrorStatus:
    if isinstance(exc, WireError):
        return ErrorStatus(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, AuthenticationError):
        return ErrorStatus(grpc.StatusCode.UNAUTHENTICATED, str(exc) or "authentication failed")
    if isinstance(exc, ConsumerError):
        code = _code_named(exc.grpc_code) if exc.grpc_code else None
        if code is None:
            # Upstream: a permanent error without a status is taken as server-side (Internal),
            # anything else as transient (Unavailable) so the sender retries.
            code = grpc.StatusCode.UNAVAILABLE if exc.retryable else grpc.StatusCode.INTERNAL
        return ErrorStatus(code, str(exc), exc.retry_after)
    return ErrorStatus(
        grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}", unexpected=True
    )
