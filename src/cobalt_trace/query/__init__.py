"""HTTP query APIs over a `store.TraceReader`: Tempo, Jaeger v1 + api_v3, and our own."""

from .app import create_app
from .server import QueryServer

__all__ = ["QueryServer", "create_app"]
