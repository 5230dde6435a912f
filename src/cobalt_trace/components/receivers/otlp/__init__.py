"""The `otlp` receiver: OTLP traces over gRPC (default localhost:4317) and HTTP (localhost:4318)."""
