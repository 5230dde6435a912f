"""Both implementations of every wire check: the native scanner (when built) and pure Python."""

from __future__ import annotations

import pytest

from cobalt_trace.wire import spanview, validate

VALIDATORS = [pytest.param(validate.validate_request_pure, id="pure")]
if validate.validate_request_native is not None:
    VALIDATORS.append(pytest.param(validate.validate_request_native, id="native"))

SCANNERS = [pytest.param(spanview.scan_spans_pure, id="pure")]
if spanview.scan_spans_native is not None:
    SCANNERS.append(pytest.param(spanview.scan_spans_native, id="native"))


@pytest.fixture(params=VALIDATORS)
def validate_request(request):
    return request.param


@pytest.fixture(params=SCANNERS)
def scan_spans(request):
    return request.param
