"""`attributes` processor settings (contrib `processor/attributesprocessor`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._attraction import ActionConfig, AttributeActions, MatchProperties, build_span_matcher

__all__ = ["AttributesConfig"]


@dataclass
class AttributesConfig:
    actions: list[ActionConfig] = field(default_factory=list)
    include: MatchProperties | None = None  # apply only to matching spans
    exclude: MatchProperties | None = None  # never apply to matching spans (checked after include)

    def validate(self) -> list[str]:
        errors = []
        if not self.actions:
            errors.append('actions: missing required field "actions"; give at least one action')
        errors += AttributeActions.compile(self.actions, "actions")[1]
        errors += build_span_matcher(self.include, self.exclude)[1]
        return errors
