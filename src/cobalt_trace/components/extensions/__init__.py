"""Built-in extensions, one folder per type name."""
