"""cobalt-trace: distributed tracing for OpenStack clouds spread over Kubernetes clusters."""

__version__ = "0.1.0"
