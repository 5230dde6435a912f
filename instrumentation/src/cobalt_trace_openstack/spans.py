"""Small helpers shared by the instrumentations."""

from __future__ import annotations

import traceback

from opentelemetry.trace import Span, Status, StatusCode

from .redaction import scrub_text

__all__ = ["record_error"]


def record_error(span: Span, exc: BaseException, secrets: list[str] = ()) -> None:
    """Like Span.record_exception, but the message and trace are scrubbed of this request's secrets."""
    try:
        etype = type(exc).__qualname__
        module = type(exc).__module__
        if module not in ("builtins", "__main__"):
            etype = f"{module}.{etype}"
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        span.add_event(
            "exception",
            {
                "exception.type": etype,
                "exception.message": scrub_text(str(exc), list(secrets)),
                "exception.stacktrace": scrub_text(stack, list(secrets)),
            },
        )
        span.set_attribute("error.type", etype)
        span.set_status(Status(StatusCode.ERROR, etype))
    except Exception:  # never let error reporting itself fail the host
        pass
