"""The `memory_limiter` processor: refuse data with a retryable error while memory is high."""
