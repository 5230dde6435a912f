"""OTLP load generation with realistic OpenStack traces (`cobalt-trace loadgen`, benchmarks)."""
