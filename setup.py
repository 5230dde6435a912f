"""Builds the optional native extensions (the span scanner of `wire`, the RowBinary encoder of
`store`); the pure-Python paths are used when they are absent."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "cobalt_trace.wire._scan",
            sources=["src/cobalt_trace/wire/_native/scan.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "cobalt_trace.store._rowbinary",
            sources=["src/cobalt_trace/store/_native/rowbinary.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
