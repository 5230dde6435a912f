"""OpenTelemetry instrumentation for OpenStack services (see instrumentation/README.md)."""
