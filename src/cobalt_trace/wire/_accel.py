"""Which implementation the wire layer uses: the native `_scan` module or pure Python.

`COBALT_TRACE_PURE_PYTHON=1` (read once, at import) forces pure Python everywhere in `wire`, so
the fallback can be exercised on machines that have the extension built.
"""

import os

__all__ = ["PURE_PYTHON", "native"]

PURE_PYTHON = os.environ.get("COBALT_TRACE_PURE_PYTHON", "").strip().lower() not in ("", "0", "false", "no")

native = None
if not PURE_PYTHON:
    try:
        from . import _scan as native
    except ImportError:  # built without a C compiler: the pure-Python paths serve
        native = None
