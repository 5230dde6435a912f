"""`tail_sampling` processor: buffer spans per trace and keep or drop whole traces."""

from .config import Config
from .processor import TailSamplingProcessor

__all__ = ["Config", "TailSamplingProcessor"]
