"""Helpers for testing protocols: scripted scenarios written as text (``scripts``, ``scenario``)."""
