"""The `health_check` extension: an HTTP probe endpoint for Kubernetes (default localhost:13133)."""
