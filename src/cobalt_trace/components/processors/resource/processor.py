"""The `resource` processor on the bytes data path.

A batch's resources are serialized `Resource` messages; spans are never touched.  Each distinct
resource (plus, when an action reads `from_context`, the resolved context values) is decoded,
rewritten and re-encoded once; the result is memoised in a bounded cache, so a steady stream of
requests from the same services costs one dict lookup per ResourceSpans.
"""

from __future__ import annotations

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from ....pipeline.client import current_client
from ....pipeline.component import Component, Consumer, CreateSettings
from ....pipeline.errors import ConfigError
from ....pipeline.processorhelper import ItemCounters
from ....wire.batch import SpanBatch
from ....wire.rewrite import MISS, RewriteCache
from .._attraction import AttributeActions, ContextValues
from .config import ResourceConfig

__all__ = ["ResourceProcessor", "decode_resource"]

DEFAULT_CACHE_ENTRIES = 4096
# cached value meaning "the actions leave this resource as it is" (the original bytes stay)
UNCHANGED = None


def decode_resource(data: bytes) -> Resource:
    """Parse one serialized resource (a module-level seam: tests count the calls)."""
    return Resource.FromString(data)


class ResourceProcessor(Component):
    mutates_data = True

    def __init__(
        self,
        settings: CreateSettings,
        config: ResourceConfig,
        next_consumer: Consumer,
        *,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
    ):
        super().__init__(settings, config)
        actions, errors = AttributeActions.compile(config.attributes, "attributes")
        if errors:
            raise ConfigError(errors)
        self._actions = actions
        self._next = next_consumer
        self.cache = RewriteCache(cache_entries)
        counters = ItemCounters(settings)
        self._incoming, self._outgoing = counters.incoming, counters.outgoing

    async def consume(self, batch: SpanBatch) -> None:
        count = batch.span_count
        self._incoming.add(count)
        self.rewrite(batch)
        self._outgoing.add(count)
        await self._next.consume(batch)

    def rewrite(self, batch: SpanBatch) -> None:
        """Apply the actions to every resource of `batch`, in place."""
        context: ContextValues = (
            self._actions.context_values(current_client()) if self._actions.uses_context else ()
        )
        changes = []
        for rs in batch.peek().resource_spans:
            old = rs.resource
            new = self._rewritten(old, context)
            if new is not UNCHANGED:
                changes.append((rs, new))
        if changes:
            batch.message  # noqa: B018 - taking the mutable view drops the batch's cached bytes
            for rs, new in changes:
                rs.resource = new

    def _rewritten(self, data: bytes, context: ContextValues) -> bytes | None:
        key = (data, context) if context else data
        cached = self.cache.get(key)
        if cached is not MISS:
            return cached
        resource = decode_resource(data)
        self._actions.apply(resource.attributes, context)
        new = resource.SerializeToString()
        result = UNCHANGED if new == data else new
        self.cache.put(key, result)
        return result
