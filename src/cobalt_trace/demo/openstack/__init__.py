"""Simulated OpenStack services for the demo: real WSGI apps behind a real WSGI server with the
paste filter of `cobalt_trace_openstack`, talking real oslo.messaging; one process per service."""
