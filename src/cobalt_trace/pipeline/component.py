"""Component ids, kinds, the consumer protocol and factories.

Everything runs on one asyncio event loop per process.  A `Consumer` takes a `SpanBatch` and
returns when the data is accepted (or raises a `ConsumerError`).  Consumers that change batches
in place say so with `mutates_data`, so fan-out copies only for them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..wire.batch import SpanBatch

if TYPE_CHECKING:
    from .host import Host
    from .telemetry import Telemetry

__all__ = [
    "Kind",
    "ComponentID",
    "Consumer",
    "Component",
    "Factory",
    "CreateSettings",
]


class Kind(enum.Enum):
    RECEIVER = "receivers"
    PROCESSOR = "processors"
    EXPORTER = "exporters"
    EXTENSION = "extensions"
    CONNECTOR = "connectors"

    @property
    def singular(self) -> str:
        return self.value[:-1]


_ID_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")
_NAME_PART = re.compile(r"^[^\s/]+$")


@dataclass(frozen=True, slots=True)
class ComponentID:
    """`type[/name]`, as written in the config."""

    type: str
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> ComponentID:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("id must not be empty")
        text = text.strip()
        type_, sep, name = text.partition("/")
        if not _ID_PART.match(type_):
            raise ValueError(f"invalid character(s) in type {type_!r}")
        if sep and not name:
            raise ValueError(f"name part must be specified after '/' in {text!r}")
        if name and not _NAME_PART.match(name):
            raise ValueError(f"invalid character(s) in name {name!r}")
        return cls(type_, name)

    def __str__(self) -> str:
        return f"{self.type}/{self.name}" if self.name else self.type


@runtime_checkable
class Consumer(Protocol):
    mutates_data: bool

    async def consume(self, batch: SpanBatch) -> None: ...


class Component:
    """Base of every receiver, processor, exporter and extension.  Override what you need."""

    mutates_data = False

    def __init__(self, settings: CreateSettings, config: Any):
        self.settings = settings
        self.config = config

    @property
    def id(self) -> ComponentID:
        return self.settings.id

    async def start(self, host: Host) -> None:
        """Open sockets, start tasks.  Raise to abort collector start-up."""

    async def shutdown(self) -> None:
        """Stop accepting, flush what is buffered downstream, release resources."""

    def local_endpoints(self) -> list:
        """Receivers: where they will listen, known from the config before start ("host:port",
        or ("*", port) for every interface).  The service maps them to the receiver's consumer in
        `Host.local_endpoints` before exporters start, so a loadbalancing exporter can hand
        batches meant for this very process to it without the network."""
        return []


@dataclass(slots=True)
class CreateSettings:
    id: ComponentID
    kind: Kind
    telemetry: Telemetry
    pipeline: str = ""  # pipeline id for receivers/processors ("traces", "traces/route")
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Factory:
    """How to make one component type.

    `config_type` is a dataclass whose field defaults are the component's defaults (see
    `configtypes.decode`).  `create(settings, config, next_consumer)` returns the component;
    `next_consumer` is None for exporters and extensions.
    """

    type: str
    kind: Kind
    config_type: type
    create: Any
    aliases: tuple[str, ...] = ()
    stability: str = "beta"
    description: str = ""
