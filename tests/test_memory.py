"""Memory stays bounded: a run with a million completed operations peaks under 1 GiB.

Latencies stream into an HDR histogram, the client history is columnar and the checkers keep
arrays, so the only per-operation objects left are the commands in the replicas' logs. The run
happens in a child process so that its peak resident set is measured on its own.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap

import pandas as pd

SUITE = """
name: million
protocol: raft
duration: 48s
warmup: 1s
cluster: {nodes: 3}
workload: {type: kv, clients: 64, keys: 10000, distribution: {type: zipfian, theta: 0.99}, read_ratio: 0.5}
faults:
  schedule: [{at: 20s, crash: leader, for: 2s}]
"""


def test_a_million_operations_fit_in_one_gib(tmp_path):
    path = tmp_path / "million.yaml"
    path.write_text(textwrap.dedent(SUITE))
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--out", str(out),
                    "--no-report", "-q", "--jobs", "1"], check=True)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    row = pd.read_csv(out / "runs.csv").iloc[0]
    assert row["ops_committed"] >= 1_000_000, row["ops_committed"]
    assert row["safety"] == "ok"
    assert peak_kib < 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
