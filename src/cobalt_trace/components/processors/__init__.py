"""Built-in processors, one folder per type name."""
