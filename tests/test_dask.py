"""The Dask executor on a small local cluster: the same rows as the local pool, and a run whose
worker dies mid-run is retried elsewhere. Skipped without the dask extra."""

from __future__ import annotations

import os
import signal
import threading
import time

import pandas as pd
import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed")

from harness.execution import executor  # noqa: E402
from harness.cli import main  # noqa: E402

SUITE = """
name: dasky
duration: 1s
warmup: 0.2s
seeds: 2
cluster: {nodes: 3}
workload: {type: kv, clients: 8, keys: 50}
faults:
  schedule: [{at: 0.5s, action: crash, target: leader, for: 0.2s}]
matrix:
  protocol: [raft, multipaxos]
"""


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


def _frame(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["wall_s"], errors="ignore")


def test_dask_writes_the_same_results_as_the_local_pool(suite_file, tmp_path, cluster):
    path = str(suite_file(SUITE))
    local, dask = tmp_path / "local", tmp_path / "dask"
    run = CliRunner().invoke
    assert run(main, ["run", path, "--out", str(local), "--no-report", "-q", "-j", "2"]).exit_code == 0
    result = run(main, ["run", path, "--out", str(dask), "--no-report", "-q", "--scheduler",
                        cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    for name in ("runs.csv", "events.csv", "timeseries.csv", "latencies.csv"):
        pd.testing.assert_frame_equal(_frame(local / name), _frame(dask / name))
    import json

    assert json.loads((dask / "manifest.json").read_text())["executor"] == "dask"


def test_a_run_whose_worker_is_killed_is_retried(make_suite, tmp_path, cluster):
    suite = make_suite(SUITE.replace("duration: 1s", "duration: 4s").replace("seeds: 2", "seeds: 1")
                       + "\n", "matrix.protocol=[raft]")
    client = distributed.Client(cluster)
    pids = client.run(os.getpid)
    rows: list = []
    worker = threading.Thread(target=lambda: rows.extend(executor.run_suite(
        suite, tmp_path / "out", progress=False, scheduler=cluster.scheduler_address)))
    worker.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline:
        busy = [addr for addr, tasks in client.processing().items() if tasks]
        if busy:
            time.sleep(0.5)  # well into the run
            killed = busy[0]
            os.kill(pids[killed], signal.SIGKILL)
        time.sleep(0.05)
    worker.join(120)
    client.close()
    assert killed is not None and not worker.is_alive()
    assert len(rows) == 1 and rows[0]["safety"] == "ok", rows
    reference = executor.run_suite(suite, tmp_path / "ref", progress=False)
    a, b = (pd.Series(row).drop("wall_s") for row in (rows[0], reference[0]))
    pd.testing.assert_series_equal(a, b)  # (NaN equal to NaN: a column nothing measured)
