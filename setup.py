"""Builds the optional native span scanner; the pure-Python path is used when it is absent."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "cobalt_trace.wire._scan",
            sources=["src/cobalt_trace/wire/_native/scan.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
