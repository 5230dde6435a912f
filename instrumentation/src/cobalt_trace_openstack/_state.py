"""Process-wide set-up state shared by setup() and the instrumentations."""

from __future__ import annotations

import threading

LOCK = threading.RLock()
settings = None  # Settings once setup() ran
provider = None  # our TracerProvider, None when disabled or not set up
processor = None  # BoundedBatchSpanProcessor
instrumentors: list = []
