"""Helpers for testing protocols with distbench: :mod:`harness.testing.conformance` (the
standard fault scenarios of a kind, run with every checker on) and scenario scripts written as
text (:mod:`harness.testing.scripts`, :mod:`harness.testing.scenario`)."""
