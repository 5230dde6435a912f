"""The one error type of the wire layer."""

__all__ = ["WireError"]


class WireError(ValueError):
    """Bytes or JSON that are not a valid OTLP message; the text names where and what."""
