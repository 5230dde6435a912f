"""The `debug` exporter: writes what it receives to the log, from a one-line count to a full dump."""
