"""Spans for agent work that is not an RPC: ``trace()`` and oslo.service periodic tasks as root spans."""

from __future__ import annotations

import functools
import inspect
import logging

from opentelemetry import context
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from .spans import record_error

__all__ = ["instrument_periodic_tasks", "trace", "uninstrument_periodic_tasks"]

LOG = logging.getLogger(__name__)
_TRACER_NAME = "cobalt_trace_openstack.agent"


class trace:  # noqa: N801 - used like a function: @trace("name") / with trace("name"):
    """Decorator and context manager for one INTERNAL span.

    ``root=True`` starts a new trace instead of joining the current one (loop iterations,
    periodic tasks). Keyword arguments become span attributes; use ``attributes={...}`` for
    names with dots. The context manager yields the span (or a non-recording one).
    """

    def __init__(self, name: str, *, root: bool = False, attributes: dict | None = None, **kwargs):
        self.name = name
        self.root = root
        self.attributes = {**(attributes or {}), **kwargs}
        self._scopes: list = []

    def _start(self):
        try:
            tracer = otel_trace.get_tracer(_TRACER_NAME)
            parent = Context() if self.root else None
            span = tracer.start_span(
                self.name, context=parent, kind=SpanKind.INTERNAL, attributes=self.attributes or None
            )
            return span, context.attach(otel_trace.set_span_in_context(span, parent))
        except Exception as exc:
            LOG.debug("cobalt-trace: cannot start span %s: %s", self.name, type(exc).__name__)
            return None, None

    @staticmethod
    def _stop(span, token, exc) -> None:
        if span is None:
            return
        try:
            if exc is not None:
                record_error(span, exc)
            span.end()
        finally:
            try:
                context.detach(token)
            except Exception:
                pass

    def __enter__(self):
        span, token = self._start()
        self._scopes.append((span, token))
        return span if span is not None else otel_trace.INVALID_SPAN

    def __exit__(self, exc_type, exc, tb):
        span, token = self._scopes.pop()
        self._stop(span, token, exc)
        return False

    def __call__(self, func):
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_traced(*args, **kwargs):
                span, token = self._start()
                error = None
                try:
                    return await func(*args, **kwargs)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    self._stop(span, token, error)

            return async_traced

        @functools.wraps(func)
        def traced(*args, **kwargs):
            span, token = self._start()
            error = None
            try:
                return func(*args, **kwargs)
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._stop(span, token, error)

        return traced


def _root_task(cls_name: str, task_name: str, task):
    scope = trace(
        f"periodic {cls_name}.{task_name}",
        root=True,
        attributes={"openstack.periodic_task": f"{cls_name}.{task_name}"},
    )
    wrapped = scope(task)  # functools.wraps keeps the task's _periodic_* attributes
    wrapped._cobalt_traced = True
    return wrapped


_original_run = None


def _ensure_traced_tasks(service) -> None:
    tasks = type(service)._periodic_tasks
    state = service.__dict__.get("_cobalt_trace_periodic")
    if state is not None and state[0] is tasks and state[1] == len(tasks):
        return
    cls_name = type(service).__name__
    # An instance attribute shadows the class list that run_periodic_tasks iterates.
    service._periodic_tasks = [
        (name, task if getattr(task, "_cobalt_traced", False) else _root_task(cls_name, name, task))
        for name, task in tasks
    ]
    service._cobalt_trace_periodic = (tasks, len(tasks))


def instrument_periodic_tasks() -> bool:
    """Every oslo.service periodic task run becomes a root span ``periodic {Class}.{task}``."""
    global _original_run
    try:
        from oslo_service import periodic_task
    except ImportError:
        return False
    if _original_run is not None:
        return True
    original = periodic_task.PeriodicTasks.run_periodic_tasks

    @functools.wraps(original)
    def run_periodic_tasks(self, context, raise_on_error=False):
        try:
            _ensure_traced_tasks(self)
        except Exception as exc:
            LOG.debug("cobalt-trace: cannot trace periodic tasks: %s", type(exc).__name__)
        return original(self, context, raise_on_error=raise_on_error)

    periodic_task.PeriodicTasks.run_periodic_tasks = run_periodic_tasks
    _original_run = original
    return True


def uninstrument_periodic_tasks() -> None:
    global _original_run
    if _original_run is None:
        return
    from oslo_service import periodic_task

    periodic_task.PeriodicTasks.run_periodic_tasks = _original_run
    _original_run = None
