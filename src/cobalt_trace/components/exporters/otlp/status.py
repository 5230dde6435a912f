"""gRPC status → permanent or retryable, as upstream `otlpexporter` `shouldRetry`/`getThrottleDuration`."""

from __future__ import annotations

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

from ....pipeline.errors import ConsumerError, PermanentError, RetryableError

__all__ = ["error_from_rpc", "retry_delay_from_trailers", "RETRYABLE_CODES"]

RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def retry_delay_from_trailers(trailers) -> float | None:
    """The `google.rpc.RetryInfo` delay carried in `grpc-status-details-bin`, in seconds."""
    for key, value in trailers or ():
        if key != "grpc-status-details-bin":
            continue
        try:
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.type_url == _RETRY_INFO:
                    info = error_details_pb2.RetryInfo.FromString(detail.value)
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
        except (DecodeError, TypeError):
            return None
    return None


def error_from_rpc(code: grpc.StatusCode, details: str | None, trailers) -> ConsumerError:
    message = f"rpc error: code = {code.name} desc = {details or ''}"
    delay = retry_delay_from_trailers(trailers)
    if code in RETRYABLE_CODES:
        return RetryableError(message, grpc_code=code.name, retry_after=delay)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and delay is not None:
        return RetryableError(message, grpc_code=code.name, retry_after=delay)
    return PermanentError(message, grpc_code=code.name)
