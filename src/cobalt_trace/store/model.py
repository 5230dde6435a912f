"""The store's row model: one `SpanRecord` per row of `otel_traces`, plus result types.

Field meanings and string forms follow the OpenTelemetry Collector `clickhouseexporter`, so a
row read back from our tables and one written by that exporter look the same:
- ids are lowercase hex (`TraceId` 32 chars, `SpanId`/`ParentSpanId` 16, empty when absent);
- `kind` is `Unspecified|Internal|Server|Client|Producer|Consumer` (pdata's `SpanKind.String()`);
- `status_code` is `Unset|Ok|Error`;
- attribute values are strings (pdata's `Value.AsString()`: ints in decimal, bools
  `true`/`false`, doubles in shortest form, arrays and maps as JSON, bytes in base64).
Times are integers in nanoseconds since the Unix epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "KINDS",
    "STATUSES",
    "SpanEvent",
    "SpanLink",
    "SpanRecord",
    "SearchRequest",
    "SpanMatch",
    "TraceMatch",
    "DependencyEdge",
    "RedRow",
    "normalize_kind",
    "normalize_status",
]

# index = OTLP enum value
KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUSES = ("Unset", "Ok", "Error")

_KIND_ALIASES = {k.lower(): k for k in KINDS} | {f"span_kind_{k.lower()}": k for k in KINDS}
_STATUS_ALIASES = {s.lower(): s for s in STATUSES} | {f"status_code_{s.lower()}": s for s in STATUSES}


def normalize_kind(text: str) -> str:
    """`Server`, also from older exporters' `SPAN_KIND_SERVER`; unknown text → `Unspecified`."""
    return _KIND_ALIASES.get(text.lower(), "Unspecified")


def normalize_status(text: str) -> str:
    return _STATUS_ALIASES.get(text.lower(), "Unset")


@dataclass(slots=True)
class SpanEvent:
    timestamp: int
    name: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SpanLink:
    trace_id: str
    span_id: str
    trace_state: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SpanRecord:
    timestamp: int  # start, ns
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    duration: int  # ns
    status_code: str = "Unset"
    status_message: str = ""
    trace_state: str = ""
    resource_attributes: dict[str, str] = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    links: list[SpanLink] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.timestamp + self.duration

    @property
    def is_root(self) -> bool:
        return not self.parent_span_id


@dataclass(slots=True)
class SearchRequest:
    """A trace search.  `query` is a parsed TraceQL `Query` (see `store.traceql`); every other
    search dialect (Jaeger's service/operation/tags, Tempo's logfmt `tags`) is turned into one
    at the API edge, so the engines have a single search path."""

    query: object
    start_ns: int | None = None
    end_ns: int | None = None
    limit: int = 20
    spans_per_spanset: int = 3


@dataclass(slots=True)
class SpanMatch:
    span_id: str
    name: str
    service: str
    start: int
    duration: int
    attributes: dict[str, str] = field(default_factory=dict)  # what `| select(...)` asked for


@dataclass(slots=True)
class TraceMatch:
    trace_id: str
    root_service: str
    root_name: str
    start: int
    duration: int
    matched: int
    spans: list[SpanMatch] = field(default_factory=list)
    services: dict[str, tuple[int, int]] = field(default_factory=dict)  # span count, error count


@dataclass(slots=True)
class DependencyEdge:
    """Calls from `parent` service to `child` service with RED of the child side."""

    parent: str
    child: str
    call_count: int
    error_count: int = 0
    p50_ns: float = 0.0
    p99_ns: float = 0.0
    p95_ns: float = 0.0


@dataclass(slots=True)
class RedRow:
    service: str
    operation: str  # "" when aggregated per service
    count: int
    errors: int
    p50_ns: float
    p90_ns: float
    p99_ns: float
    rate_per_s: float
