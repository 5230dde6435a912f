"""The `file_storage` extension: per-component durable storage on local disk (persistent sending queues)."""
