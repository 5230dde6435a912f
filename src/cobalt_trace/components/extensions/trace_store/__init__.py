"""The `trace_store` extension: owns the trace store (chDB by default) for exporters and queries."""
