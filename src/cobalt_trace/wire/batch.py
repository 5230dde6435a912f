"""`SpanBatch`: the unit that flows through pipelines, spans kept as serialized bytes.

A batch is an `ExportTraceServiceRequest` parsed with the bytes schema of `otlp_raw`: resources,
scopes and spans are opaque `bytes`, so receiving, rewriting a resource, batching and exporting
never decode a span.  Two representations are kept lazily and converted on demand:

- `to_bytes()` — the serialized request, as received or as assembled by one join;
- `message` — the mutable upb `RequestRaw`; asking for it means "I may change it", so cached
  bytes and span count are dropped.

Concatenating serialized requests is itself a valid request (repeated fields merge), which is
how `concat` joins batches without parsing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from google.protobuf.message import DecodeError

from .errors import WireError
from .otlp_raw import RequestRaw

__all__ = ["SpanBatch"]


class SpanBatch:
    __slots__ = ("_msg", "_data", "_count")

    def __init__(self, *, message=None, data: bytes | None = None, span_count: int | None = None):
        if message is None and data is None:
            message = RequestRaw()
        self._msg = message
        self._data = data
        self._count = span_count

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, *, validate: bool = True) -> SpanBatch:
        """Wrap a serialized `ExportTraceServiceRequest` (or `TracesData`, same layout).

        With `validate` the whole wire structure is checked (every span's fields, id lengths)
        and a `WireError` names the first offending place; nothing is decoded into objects.
        """
        data = bytes(data)
        if validate:
            from .validate import validate_request

            count = validate_request(data)
            return cls(data=data, span_count=count)
        return cls(data=data)

    @classmethod
    def concat(cls, batches: Iterable[SpanBatch]) -> SpanBatch:
        """One batch holding all spans of `batches`, assembled with a single join."""
        batches = list(batches)
        if len(batches) == 1:
            return batches[0]
        data = b"".join([b.to_bytes() for b in batches])
        return cls(data=data, span_count=sum(b.span_count for b in batches))

    # -- views --------------------------------------------------------------------------------
    @property
    def message(self):
        """The mutable `RequestRaw`; callers may change it, so cached bytes/count are dropped."""
        msg = self._parsed()
        self._data = None
        self._count = None
        return msg

    def peek(self):
        """The `RequestRaw` for reading only (no invalidation); never mutate what this returns."""
        return self._parsed()

    @property
    def span_count(self) -> int:
        if self._count is None:
            n = 0
            for rs in self._parsed().resource_spans:
                for ss in rs.scope_spans:
                    n += len(ss.spans)
            self._count = n
        return self._count

    def __len__(self) -> int:
        return self.span_count

    def to_bytes(self) -> bytes:
        if self._data is None:
            self._data = self._msg.SerializeToString()
        return self._data

    def iter_spans(self) -> Iterator[tuple[object, object, bytes]]:
        """(resource_spans, scope_spans, span bytes) for every span, read-only."""
        for rs in self._parsed().resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    yield rs, ss, span

    # -- transformations ---------------------------------------------------------------------
    def copy(self) -> SpanBatch:
        """An independent batch with the same spans (fan-out to a mutating consumer)."""
        return SpanBatch(data=self.to_bytes(), span_count=self.span_count)

    def split(self, max_spans: int) -> list[SpanBatch]:
        """Batches of at most `max_spans` spans each, in order; resources/scopes are repeated
        in every piece they contribute spans to."""
        if max_spans <= 0 or self.span_count <= max_spans:
            return [self]
        pieces: list[SpanBatch] = []
        out = RequestRaw()
        room = max_spans
        for rs in self._parsed().resource_spans:
            out_rs = None
            for ss in rs.scope_spans:
                spans = ss.spans
                start = 0
                while start < len(spans):
                    if out_rs is None:
                        out_rs = out.resource_spans.add(resource=rs.resource, schema_url=rs.schema_url)
                    take = min(room, len(spans) - start)
                    out_ss = out_rs.scope_spans.add(scope=ss.scope, schema_url=ss.schema_url)
                    out_ss.spans.extend(spans[start : start + take])
                    start += take
                    room -= take
                    if room == 0:
                        pieces.append(SpanBatch(message=out, span_count=max_spans))
                        out, out_rs, room = RequestRaw(), None, max_spans
        if room < max_spans:
            pieces.append(SpanBatch(message=out, span_count=max_spans - room))
        return pieces

    # -- internals -----------------------------------------------------------------------------
    def _parsed(self):
        if self._msg is None:
            try:
                self._msg = RequestRaw.FromString(self._data)
            except DecodeError as exc:
                raise WireError(f"not an OTLP ExportTraceServiceRequest: {exc}") from None
        return self._msg

    def __repr__(self) -> str:
        return f"SpanBatch(spans={self.span_count})"
