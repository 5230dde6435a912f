"""Sampling policies of the `tail_sampling` processor, one evaluator class per upstream type."""

from .build import Needs, build_policy, needs_of
from .decision import Decision, Evaluator, TraceView
from .probabilistic import DEFAULT_HASH_SALT, fnv1a_64, sampling_threshold

__all__ = [
    "DEFAULT_HASH_SALT",
    "Decision",
    "Evaluator",
    "Needs",
    "TraceView",
    "build_policy",
    "fnv1a_64",
    "needs_of",
    "sampling_threshold",
]
