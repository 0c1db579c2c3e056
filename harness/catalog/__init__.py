"""The catalog: what every metric and parameter is, said once and read by the report, the
summary, compare, history and the CLI.

- :mod:`~harness.catalog.metrics`: each metric's key, unit, better direction, meaning, default
  gate threshold and the kind that measures it; adding a metric is one declaration there plus
  the code that measures it.
- :mod:`~harness.catalog.params`: what a config key measures (a duration, a rate, a size), read
  from its type in the suite schema or a protocol's options, and how it is named and shown.
- :mod:`~harness.catalog.listing`: ``distbench list``.
"""
