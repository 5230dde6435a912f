"""Built-in receivers, one folder per type name."""
