"""Attribute actions and include/exclude span matching shared by the `resource` and `attributes`
processors (the collector-contrib `attraction` and `filterspan` packages).

The leading underscore keeps this package out of component discovery: it is a library, not a
component type.
"""

from .actions import AttributeActions, ContextValues
from .config import ActionConfig, AttributeMatch, LibraryMatch, MatchProperties, RegexpConfig
from .matching import SpanMatcher, build_span_matcher

__all__ = [
    "ActionConfig",
    "AttributeActions",
    "AttributeMatch",
    "ContextValues",
    "LibraryMatch",
    "MatchProperties",
    "RegexpConfig",
    "SpanMatcher",
    "build_span_matcher",
]
