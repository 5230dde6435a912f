"""The `file` exporter: OTLP/JSON lines or length-prefixed protobuf, with size-based rotation."""
