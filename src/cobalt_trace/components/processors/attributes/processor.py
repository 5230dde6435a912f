"""The `attributes` processor on the bytes data path.

Spans stay serialized unless the action list applies to them.  Resource and scope conditions of
`include`/`exclude` are decided once per ResourceSpans/ScopeSpans; span names and kinds are read
through a two-field view; a span is fully decoded only when its attributes are needed — to match
on them, or because the actions apply — and then re-encoded into its slot.  Without
`include`/`exclude` every span is decoded, as the actions may touch any of them.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ....pipeline.client import current_client
from ....pipeline.component import Component, Consumer, CreateSettings
from ....pipeline.errors import ConfigError
from ....pipeline.processorhelper import ItemCounters
from ....wire.batch import SpanBatch
from .._attraction import AttributeActions, build_span_matcher
from .._attraction.matching import ALL, NONE
from .config import AttributesConfig

__all__ = ["AttributesProcessor", "SpanHead", "decode_span"]


def _build_span_head():
    """A view of `Span` with only `name` (5) and `kind` (6): parsing it skips everything else."""
    f = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="cobalt_trace/attributes_span_head.proto", package="cobalt_trace.attributes", syntax="proto3"
    )
    msg = file.message_type.add(name="SpanHead")
    msg.field.add(name="name", number=5, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
    msg.field.add(name="kind", number=6, type=f.TYPE_INT32, label=f.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("cobalt_trace.attributes.SpanHead"))


SpanHead = _build_span_head()


def decode_span(data: bytes) -> Span:
    """Fully parse one span (a module-level seam: tests count the calls)."""
    return Span.FromString(data)


class AttributesProcessor(Component):
    mutates_data = True

    def __init__(self, settings: CreateSettings, config: AttributesConfig, next_consumer: Consumer):
        super().__init__(settings, config)
        errors = [] if config.actions else ['actions: missing required field "actions"']
        actions, action_errors = AttributeActions.compile(config.actions, "actions")
        matcher, match_errors = build_span_matcher(config.include, config.exclude)
        errors += action_errors + match_errors
        if errors:
            raise ConfigError(errors)
        self._actions = actions
        self._matcher = matcher
        self._next = next_consumer
        counters = ItemCounters(settings)
        self._incoming, self._outgoing = counters.incoming, counters.outgoing

    async def consume(self, batch: SpanBatch) -> None:
        count = batch.span_count
        self._incoming.add(count)
        self.process(batch)
        self._outgoing.add(count)
        await self._next.consume(batch)

    def process(self, batch: SpanBatch) -> None:
        """Apply the actions to every span they concern, in place."""
        actions, matcher = self._actions, self._matcher
        context = actions.context_values(current_client()) if actions.uses_context else ()
        everything = matcher.matches_everything
        need_attrs = matcher.needs_span_attributes
        changes = []
        for rs in batch.peek().resource_spans:
            resource = None
            for ss in rs.scope_spans:
                decision, exclude_pending = ALL, False
                if not everything:
                    if resource is None:
                        resource = Resource.FromString(rs.resource)
                    scope = InstrumentationScope.FromString(ss.scope)
                    decision, exclude_pending = matcher.scope_decision(resource, scope)
                    if decision == NONE:
                        continue
                for i, raw in enumerate(ss.spans):
                    span = None
                    if decision != ALL:
                        if need_attrs:
                            span = decode_span(raw)
                            head = span
                        else:
                            head = SpanHead.FromString(raw)
                        attrs = span.attributes if span is not None else ()
                        if not matcher.span_applies(exclude_pending, head.name, head.kind, attrs):
                            continue
                    if span is None:
                        span = decode_span(raw)
                    actions.apply(span.attributes, context)
                    new = span.SerializeToString()
                    if new != raw:
                        changes.append((ss, i, new))
        if changes:
            batch.message  # noqa: B018 - taking the mutable view drops the batch's cached bytes
            for ss, i, new in changes:
                ss.spans[i] = new
