"""`SpanRecord`s → an Arrow IPC stream whose column names are the `otel_traces` columns.

pyarrow is imported on first use: it belongs to the `store` extra, not to gateways.
"""

from __future__ import annotations

from collections.abc import Sequence

from .ddl import INSERT_COLUMNS
from .model import SpanRecord

__all__ = ["records_to_arrow", "arrow_ipc_stream"]

_SCHEMA = None


def _schema():
    global _SCHEMA
    if _SCHEMA is None:
        import pyarrow as pa

        s, ts, m = pa.string(), pa.timestamp("ns"), pa.map_(pa.string(), pa.string())
        types = {
            "Timestamp": ts,
            "ResourceAttributes": m,
            "SpanAttributes": m,
            "Duration": pa.uint64(),
            "Events.Timestamp": pa.list_(ts),
            "Events.Name": pa.list_(s),
            "Events.Attributes": pa.list_(m),
            "Links.TraceId": pa.list_(s),
            "Links.SpanId": pa.list_(s),
            "Links.TraceState": pa.list_(s),
            "Links.Attributes": pa.list_(m),
        }
        _SCHEMA = pa.schema([(name, types.get(name, s)) for name in INSERT_COLUMNS])
    return _SCHEMA


def records_to_arrow(spans: Sequence[SpanRecord]):
    """A `pyarrow.Table` with one row per span, columns named and typed as `otel_traces`."""
    import pyarrow as pa

    cols = {
        "Timestamp": [s.timestamp for s in spans],
        "TraceId": [s.trace_id for s in spans],
        "SpanId": [s.span_id for s in spans],
        "ParentSpanId": [s.parent_span_id for s in spans],
        "TraceState": [s.trace_state for s in spans],
        "SpanName": [s.name for s in spans],
        "SpanKind": [s.kind for s in spans],
        "ServiceName": [s.service for s in spans],
        "ResourceAttributes": [list(s.resource_attributes.items()) for s in spans],
        "ScopeName": [s.scope_name for s in spans],
        "ScopeVersion": [s.scope_version for s in spans],
        "SpanAttributes": [list(s.attributes.items()) for s in spans],
        "Duration": [s.duration for s in spans],
        "StatusCode": [s.status_code for s in spans],
        "StatusMessage": [s.status_message for s in spans],
        "Events.Timestamp": [[e.timestamp for e in s.events] for s in spans],
        "Events.Name": [[e.name for e in s.events] for s in spans],
        "Events.Attributes": [[list(e.attributes.items()) for e in s.events] for s in spans],
        "Links.TraceId": [[ln.trace_id for ln in s.links] for s in spans],
        "Links.SpanId": [[ln.span_id for ln in s.links] for s in spans],
        "Links.TraceState": [[ln.trace_state for ln in s.links] for s in spans],
        "Links.Attributes": [[list(ln.attributes.items()) for ln in s.links] for s in spans],
    }
    schema = _schema()
    return pa.Table.from_arrays([pa.array(cols[f.name], f.type) for f in schema], schema=schema)


def arrow_ipc_stream(table) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()
