"""Executing a suite: executors (local pool, Dask) with limits and progress (``executor``), run
keys and the run cache (``cache``), cost estimates (``estimate``) and the results writer
(``results``). The driver is the only writer of a results directory."""
