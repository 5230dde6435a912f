"""Data and codecs only, no I/O: span batches over raw OTLP bytes, OTLP protobuf/JSON codecs, ids."""
