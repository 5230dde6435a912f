"""Compile Go (RE2) regular expressions with Python's `re`, translating the few spellings that
differ: `(?<name>...)` named groups and the `\\z` end-of-text anchor."""

from __future__ import annotations

import re

__all__ = ["compile_go_regex"]


def compile_go_regex(pattern: str) -> re.Pattern:
    """Compile `pattern`; raises `ValueError` with the reason if it is not a valid expression."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            out.append("\\Z" if nxt == "z" else ch + nxt)
            i += 2
            continue
        if pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(ch)
        i += 1
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
