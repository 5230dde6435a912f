"""The `otlp_http` exporter (alias `otlphttp`): OTLP over HTTP, protobuf or JSON."""
