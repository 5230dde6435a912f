"""The store's small interface: a writer, a reader, and the store that is both.

Methods are synchronous (the embedded engine blocks); the async callers (query API, exporter)
run them in a worker thread.  Times are ns since the epoch; `None` bounds mean "unbounded".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .model import DependencyEdge, RedRow, SearchRequest, SpanRecord, TraceMatch

__all__ = ["StoreError", "TraceWriter", "TraceReader", "TraceStore", "REQUEST_ID_KEYS"]

# span attributes that carry an OpenStack request id, most specific first
REQUEST_ID_KEYS = ("openstack.request_id", "openstack.global_request_id")


class StoreError(Exception):
    """The engine failed (I/O, server unreachable, bad SQL): retryable for writers."""


@runtime_checkable
class TraceWriter(Protocol):
    def write_spans(self, spans: Sequence[SpanRecord]) -> None:
        """Persist `spans` as one insert; when it returns, they are stored."""


@runtime_checkable
class TraceReader(Protocol):
    def get_trace(
        self, trace_id: str, start_ns: int | None = None, end_ns: int | None = None
    ) -> list[SpanRecord]:
        """All spans of a trace (lowercase hex id), ordered by start time; [] if unknown."""

    def get_traces(self, trace_ids: Sequence[str]) -> dict[str, list[SpanRecord]]:
        """Spans of several traces at once, by trace id; unknown ids are absent."""

    def search(self, request: SearchRequest) -> list[TraceMatch]:
        """Traces selected by a TraceQL query, most recent first, at most `request.limit`."""

    def find_by_request_id(
        self, request_id: str, start_ns: int | None = None, end_ns: int | None = None
    ) -> list[SpanRecord]:
        """Every span of every trace with a span carrying `request_id`, in time order."""

    def services(self) -> list[str]: ...

    def operations(self, service: str | None = None) -> list[tuple[str, str]]:
        """(span name, kind) pairs, for one service or all."""

    def tag_names(
        self, start_ns: int | None = None, end_ns: int | None = None, limit: int = 1000
    ) -> dict[str, list[str]]:
        """Attribute keys seen, by scope: {"span": [...], "resource": [...]}."""

    def tag_values(
        self, tag, start_ns: int | None = None, end_ns: int | None = None, limit: int = 1000
    ) -> list[str]:
        """Distinct values of a TraceQL field (`Intrinsic` or `Attribute`)."""

    def dependencies(self, start_ns: int | None = None, end_ns: int | None = None) -> list[DependencyEdge]:
        """Parent-service → child-service call edges with RED of the child spans."""

    def red(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        service: str | None = None,
        by_operation: bool = True,
    ) -> list[RedRow]: ...


class TraceStore(TraceWriter, TraceReader, Protocol):
    def enforce_retention(self, now_ns: int | None = None) -> int:
        """Drop data older than the retention and, over the size cap, the oldest days.
        Returns the number of partitions (or traces, for the memory double) removed."""

    def close(self) -> None: ...
