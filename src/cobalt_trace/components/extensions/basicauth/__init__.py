"""The `basicauth` extension: HTTP Basic credentials checked against an htpasswd file, or sent by exporters."""
