"""RewriteCache bounds; COBALT_TRACE_PURE_PYTHON switches every wire check to pure Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cobalt_trace.wire import validate
from cobalt_trace.wire.rewrite import MISS, RewriteCache


def test_remembers_each_distinct_key_once():
    cache = RewriteCache()
    assert cache.get(b"a") is MISS
    cache.put(b"a", b"A")
    cache.put((b"b", ("ctx",)), None)  # a value may be None ("unchanged")
    assert cache.get(b"a") == b"A" and cache.get((b"b", ("ctx",))) is None
    assert (cache.hits, cache.misses) == (2, 1) and len(cache) == 2


def test_bounded_when_full_oldest_first():
    cache = RewriteCache(max_entries=3)
    for i in range(10):
        cache.put(bytes([i]), i)
        assert len(cache) <= 3
    assert [cache.get(bytes([i])) for i in (6, 7, 8, 9)] == [MISS, 7, 8, 9]
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        RewriteCache(max_entries=0)


_PROBE = """
import json
from cobalt_trace.wire import _accel, spanview, validate
print(json.dumps({
    "pure": _accel.PURE_PYTHON,
    "native": _accel.native is not None,
    "validate_is_pure": validate.validate_request is validate.validate_request_pure,
    "scan_is_pure": spanview.scan_spans is spanview.scan_spans_pure,
}))
"""


def _probe(env_value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "COBALT_TRACE_PURE_PYTHON"}
    if env_value is not None:
        env["COBALT_TRACE_PURE_PYTHON"] = env_value
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_environment_variable_forces_pure_python():
    forced = _probe("1")
    assert forced == {"pure": True, "native": False, "validate_is_pure": True, "scan_is_pure": True}
    default = _probe(None)
    assert default["pure"] is False
    assert default["validate_is_pure"] == default["scan_is_pure"] == (not default["native"])


def test_native_module_is_built_here():
    """The development venv and CI build the extension; a silent fallback would hide its bugs."""
    if os.environ.get("COBALT_TRACE_PURE_PYTHON"):
        pytest.skip("pure Python forced")
    assert validate.NATIVE, "cobalt_trace.wire._scan is not importable: rebuild with `pip install -e .`"
