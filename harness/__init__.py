"""distbench: a deterministic benchmarking and comparison harness for distributed protocols."""

__version__ = "0.1.0"
