"""Linearizability checker speed on repeated values, as benchmarks (pytest-benchmark), never as
timed assertions.

The family is :func:`register_histories.memstress`: one cas-register, 5 values, 32 concurrent
processes, a tenth of the calls given up on (so they may take effect at any later time) -- the
shape of Knossos' ``memstress`` histories, where every configuration can be reached many ways.
``pytest -n 0 --benchmark-enable tests/test_bench_linearizability.py`` measures; with
benchmarks disabled (the default) each body runs once and only the verdict is asserted.
"""

from __future__ import annotations

import pytest

from harness.checkers.linearizability import check_linearizability
from register_histories import memstress


@pytest.mark.benchmark(group="linearizability-repeated-values")
@pytest.mark.parametrize("n_ops", [100, 200, 400])
def test_memstress(benchmark, n_ops):
    history = memstress(n_ops, processes=32, info=0.1, seed=1)
    result = benchmark.pedantic(check_linearizability, (history,), {"budget": 20_000_000},
                                rounds=1, iterations=1)
    assert result.status == "ok", result
