"""Errors crossing component boundaries: permanent or retryable, mapped to gRPC/HTTP once,
at the receiver edge (`receivers/otlp`)."""

from __future__ import annotations

__all__ = ["ConsumerError", "PermanentError", "RetryableError", "DataRefusedError", "ConfigError"]


class ConsumerError(Exception):
    """A pipeline could not take data.  `retryable` decides the status clients see.

    `grpc_code` (a `grpc.StatusCode` name such as "RESOURCE_EXHAUSTED") overrides the default
    mapping; `retry_after` (seconds) becomes RetryInfo / `Retry-After`.
    """

    retryable = True

    def __init__(self, message: str, *, grpc_code: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.grpc_code = grpc_code
        self.retry_after = retry_after


class PermanentError(ConsumerError):
    """Data that will never be accepted (malformed, rejected by policy): do not retry."""

    retryable = False


class RetryableError(ConsumerError):
    """A transient failure (exporter down, queue full): the sender should retry later."""


class DataRefusedError(RetryableError):
    """Refused to protect the process (memory limit): retry after backing off."""


class ConfigError(Exception):
    """Invalid configuration.  `errors` holds one line per problem, each with its key path."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("invalid configuration:\n" + "\n".join(f"  {e}" for e in self.errors))
