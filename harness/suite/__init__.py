"""Suites: the YAML a user writes, validated into the typed configuration every run is built from.

Everything a suite says is checked when it is loaded, for every point of its matrix, and every
mistake becomes one line naming the file, the dotted key and what was expected. The rooms:

- :mod:`~harness.suite.loading`: ``load_suite``, :class:`Suite`, :class:`RunSpec`;
- :mod:`~harness.suite.run`: :class:`RunConfig`, one run's configuration, built from the sections
  in :mod:`~harness.suite.cluster`, :mod:`~harness.suite.workloads`, :mod:`~harness.suite.faults`
  on the shared types of :mod:`~harness.suite.fields`;
- :mod:`~harness.suite.matrix`: sweeps, contenders and the reference;
- :mod:`~harness.suite.overrides`: ``--set key.path=value``;
- :mod:`~harness.suite.keys`: dotted keys; :mod:`~harness.suite.errors`: one-line errors.

Values with units are parsed by :mod:`harness.units`.
"""
