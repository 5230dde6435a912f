"""What a started component can reach: the extensions, by id, and the process's telemetry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .component import ComponentID
    from .telemetry import Telemetry

__all__ = ["Host"]


class Host:
    def __init__(self, telemetry: Telemetry, extensions: dict[ComponentID, Any] | None = None):
        self.telemetry = telemetry
        self.extensions: dict[ComponentID, Any] = dict(extensions or {})
        # pipeline id -> its first consumer (set by the service)
        self.local_consumers: dict[str, Any] = {}
        # "host:port" (or ("*", port) for a wildcard bind) of this process's own OTLP receivers
        # -> the consumer behind them, so a loadbalancing exporter can skip the network to itself
        self.local_endpoints: dict[Any, Any] = {}
        # true from the end of start-up to the beginning of shutdown (health_check reads it)
        self.ready = False

    def get_extension(self, ref: str | ComponentID) -> Any:
        from .component import ComponentID

        cid = ref if isinstance(ref, ComponentID) else ComponentID.parse(ref)
        try:
            return self.extensions[cid]
        except KeyError:
            raise LookupError(f"extension {cid} is not configured under service::extensions") from None
