"""The collector application: runs pipelines from config, serves self-telemetry, handles signals."""
