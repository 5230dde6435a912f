"""The `loadbalancing` exporter: route spans by trace id (or service) over a consistent-hash ring of OTLP backends."""
