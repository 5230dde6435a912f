"""`trace_query` settings; defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass

from ....pipeline.simplehttp import split_endpoint

__all__ = ["TraceQueryConfig"]


@dataclass
class TraceQueryConfig:
    endpoint: str = "127.0.0.1:3200"  # Tempo's HTTP port
    storage: str = "trace_store"  # id of the trace_store extension

    def validate(self) -> list[str]:
        errors = []
        try:
            split_endpoint(self.endpoint, 3200)
        except ValueError as exc:
            errors.append(f"endpoint: {exc}")
        if not self.storage:
            errors.append("storage: name the trace_store extension to query")
        return errors
