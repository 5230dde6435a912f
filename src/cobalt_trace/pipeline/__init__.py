"""The component model: ids, factories, registry, config loading/validation, the pipeline graph.

Knows no component by name; components register their factories with `registry`.
"""
