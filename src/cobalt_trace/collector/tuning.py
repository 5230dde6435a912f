"""Process settings measured to matter on the span path (see docs/architecture.md, "Data path").

- glibc: large upb arenas and request buffers cross the 128 KiB mmap threshold, so each request
  would mmap/munmap; raising the thresholds keeps them on the heap (+5-10% on this path, up to 2x
  for full decodes).
- gc: the span path allocates few cycles but many objects; freezing start-up objects and raising
  the generation-0 threshold removes most collection work (5-17% measured).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

__all__ = ["tune_process", "freeze_startup_objects"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_process() -> None:
    if os.environ.get("COBALT_TRACE_NO_TUNING"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune
    gc.set_threshold(50_000, 20, 100)


def freeze_startup_objects() -> None:
    """Move everything allocated during start-up out of the collector's sight."""
    gc.collect()
    gc.freeze()
