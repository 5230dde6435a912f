"""`tail_sampling` factory (contrib `processor/tailsamplingprocessor`, beta, traces only)."""

from __future__ import annotations

from ....pipeline.component import Factory, Kind
from .config import Config
from .processor import TailSamplingProcessor

__all__ = ["FACTORY"]


def _create(settings, config: Config, next_consumer) -> TailSamplingProcessor:
    return TailSamplingProcessor(settings, config, next_consumer)


FACTORY = Factory(
    type="tail_sampling",
    kind=Kind.PROCESSOR,
    config_type=Config,
    create=_create,
    stability="beta",
    description="Samples whole traces after decision_wait with the contrib policy types",
)
