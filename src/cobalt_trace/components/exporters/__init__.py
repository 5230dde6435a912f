"""Built-in exporters, one folder per type name."""
