"""`resource` processor settings (contrib `processor/resourceprocessor`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._attraction import ActionConfig, AttributeActions

__all__ = ["ResourceConfig"]


@dataclass
class ResourceConfig:
    # the same action list as the attributes processor's `actions`, applied to resource attributes
    attributes: list[ActionConfig] = field(default_factory=list)

    def validate(self) -> list[str]:
        if not self.attributes:
            return ['attributes: missing required field "attributes"; give at least one action']
        return AttributeActions.compile(self.attributes, "attributes")[1]
