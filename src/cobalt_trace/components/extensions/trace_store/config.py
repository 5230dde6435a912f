"""`trace_store` settings; defaults in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ....pipeline.configtypes import Duration

__all__ = ["TraceStoreConfig", "parse_size"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(value: str) -> int:
    """ "500MB", "10GiB", "1048576" → bytes; "" or "0" → 0 (no cap)."""
    text = str(value).strip()
    if not text:
        return 0
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"invalid size {value!r}; write bytes or a unit such as 500MB or 10GiB")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()])


@dataclass
class TraceStoreConfig:
    engine: Literal["chdb", "clickhouse", "memory"] = "chdb"
    path: str = "./data"  # chdb: the directory only this process may open
    dsn: str = ""  # clickhouse: e.g. http://user:pass@clickhouse:8123/default
    cluster: str = ""  # clickhouse: ON CLUSTER name → replicated + distributed tables
    database: str = "default"
    retention: Duration = Duration(168 * 3600)  # 0 = keep forever
    max_size: str = ""  # on-disk cap, oldest days evicted first ("" = none)
    # spans per INSERT (group commit): every insert makes a part, and chDB ingests ~3x faster
    # at 65536 than at 8192 (bench/store.py); flush_interval bounds the wait at low rates
    batch_size: int = 65536
    flush_interval: Duration = Duration(1)  # ...or this long after the first pending span
    retention_check_interval: Duration = Duration(60)
    readers: int = 2  # chdb reader connections

    def validate(self) -> list[str]:
        errors = []
        if self.engine == "chdb" and not self.path:
            errors.append("path: the chdb engine needs a directory")
        if self.engine == "clickhouse" and not self.dsn:
            errors.append("dsn: the clickhouse engine needs a dsn such as http://clickhouse:8123")
        if self.cluster and self.engine != "clickhouse":
            errors.append("cluster: only the clickhouse engine runs on a cluster")
        if self.retention < 0:
            errors.append("retention: must not be negative")
        try:
            parse_size(self.max_size)
        except ValueError as exc:
            errors.append(f"max_size: {exc}")
        if self.batch_size <= 0:
            errors.append("batch_size: must be positive")
        if self.flush_interval <= 0:
            errors.append("flush_interval: must be positive")
        if self.retention_check_interval <= 0:
            errors.append("retention_check_interval: must be positive")
        if self.readers <= 0:
            errors.append("readers: must be positive")
        return errors
