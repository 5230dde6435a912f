"""The TraceQL subset: parse once at the API edge, narrow candidates in SQL, decide exactly in
Python (`evaluate`).  See `ast` for the grammar."""

from .ast import Query
from .evaluate import evaluate_trace, uses_trace_level
from .parser import TraceQLError, parse
from .sql import CandidateSQL, compile_candidates

__all__ = [
    "CandidateSQL",
    "Query",
    "TraceQLError",
    "compile_candidates",
    "evaluate_trace",
    "parse",
    "uses_trace_level",
]
