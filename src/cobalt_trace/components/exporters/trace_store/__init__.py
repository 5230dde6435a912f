"""The `trace_store` exporter: writes spans into the `trace_store` extension's store."""
