"""Built-in protocol implementations. Each publishes a ``SPEC`` that the package metadata names in
the ``distbench.protocols`` entry-point group (pyproject.toml); nothing is registered on import."""
