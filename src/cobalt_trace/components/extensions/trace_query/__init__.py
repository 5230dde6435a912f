"""The `trace_query` extension: Tempo, Jaeger and cobalt query APIs over a `trace_store`."""
