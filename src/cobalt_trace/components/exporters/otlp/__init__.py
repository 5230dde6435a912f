"""The `otlp_grpc` exporter (alias `otlp`): OTLP over gRPC, request bytes forwarded unparsed."""
