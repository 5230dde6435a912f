"""Trace storage: the `otel_traces` schema on chDB or ClickHouse, an in-memory double, and the
TraceQL subset.  Runs without the collector; chdb/clickhouse-connect load lazily."""

from .api import REQUEST_ID_KEYS, StoreError, TraceReader, TraceStore, TraceWriter
from .batching import BatchingWriter
from .decode import decode_batch
from .encode import records_to_traces_data
from .memory import MemoryStore
from .model import (
    DependencyEdge,
    RedRow,
    SearchRequest,
    SpanEvent,
    SpanLink,
    SpanMatch,
    SpanRecord,
    TraceMatch,
)

__all__ = [
    "REQUEST_ID_KEYS",
    "BatchingWriter",
    "DependencyEdge",
    "MemoryStore",
    "RedRow",
    "SearchRequest",
    "SpanEvent",
    "SpanLink",
    "SpanMatch",
    "SpanRecord",
    "StoreError",
    "TraceMatch",
    "TraceReader",
    "TraceStore",
    "TraceWriter",
    "decode_batch",
    "records_to_traces_data",
]
