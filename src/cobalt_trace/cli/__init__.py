"""The `cobalt-trace` command line."""
