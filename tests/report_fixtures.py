"""Small, plausible results directories for the report tests (and for looking at reports).

The numbers come from a toy model, not from any real run: a leader-bound service whose capacity
falls with cluster size and loss for consensus suites, and contention that grows with Zipfian θ
and the write ratio for transaction suites. Every number derives from a seeded RNG, so the same
arguments always give the same directory.

    python tests/report_fixtures.py OUT_DIR [consensus|transactions] ...
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

DURATION_S = 20.0
WARMUP_S = 2.0

RUN_COLUMNS = [
    "throughput_ops_s", "latency_mean_ms", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
    "latency_p999_ms", "latency_max_ms", "ops_committed", "ops_failed", "abort_rate",
    "messages_per_op", "bytes_per_op", "leader_changes", "failover_ms_mean", "failover_ms_max",
    "unavailable_ms", "leader_cpu_utilization", "ops_outstanding", "wall_s", "safety", "safety_detail",
]
# Columns of a consensus run that transaction results written before they were left out carry as
# zeros (the report must still leave them out).
CONSENSUS_ZEROS = ["retransmissions_per_op", "repairs_per_op", "loss_blocked_share",
                   "unavailable_ms_leader_change"]
TXN_COLUMNS = [
    "conflict_rate", "aborts_conflict", "aborts_deadlock", "aborts_validation", "aborts_timeout",
    "aborts_failure", "retries_per_txn", "lock_wait_ms_mean", "twopc_ms_mean", "blocked_ms",
    "unavailable_ms_fault", *CONSENSUS_ZEROS,
]
TXN_FAULTS = {"schedule": [{"at": "8s", "action": "crash", "target": "coordinator", "for": "1s"}]}

CONSENSUS_BASE = {
    "name": "raft-vs-paxos", "kind": "consensus", "duration": "20s", "warmup": "2s", "seeds": 3,
    "cluster": {"nodes": 5, "cpu_per_message": "20us", "fsync": "200us"},
    "network": {"latency": {"dist": "normal", "mean": "1ms", "std": "200us"}, "loss": 0.0},
    "workload": {"type": "kv", "clients": 64, "mode": "closed", "keys": 10000,
                 "distribution": {"type": "zipfian", "theta": 0.99}, "read_ratio": 0.5,
                 "timeout": "200ms", "retries": 10},
    "faults": {"schedule": [{"at": "8s", "crash": "leader", "for": "3s"},
                            {"at": "14s", "isolate": 2, "for": "2s"}]},
}
TXN_BASE = {
    "name": "cc-contention", "kind": "transactions", "duration": "20s", "warmup": "2s", "seeds": 3,
    "cluster": {"nodes": 3, "partitions": 3, "cpu_per_message": "20us"},
    "network": {"latency": {"dist": "normal", "mean": "1ms", "std": "200us"}, "loss": 0.0},
    "workload": {"type": "ycsb", "clients": 32, "keys": 100000, "txn_size": 8,
                 "distribution": {"type": "zipfian", "theta": 0.8}, "write_ratio": 0.5,
                 "multi_partition": 0.2},
}


def _rng(*parts: Any) -> np.random.Generator:
    h = hashlib.sha256(repr(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def _get(cfg: dict, dotted: str) -> Any:
    cur: Any = cfg
    for part in dotted.split("."):
        cur = cur[part]
    return cur


def _set(cfg: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = cfg
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def _latency_hist(p50: float, p99: float, n: int) -> list[tuple[float, int]]:
    """A log-normal latency histogram with the given median and p99, in log-spaced buckets."""
    sigma = max(0.05, math.log(max(p99, p50 * 1.01) / p50) / 2.326)
    edges = np.geomspace(0.05, 20000, 121)
    cdf = stats.lognorm.cdf(edges, s=sigma, scale=p50)
    counts = np.round(np.diff(cdf) * n).astype(int)
    mids = np.sqrt(edges[:-1] * edges[1:])
    return [(round(float(m), 4), int(c)) for m, c in zip(mids, counts) if c > 0]


def _seconds(v: Any) -> float:
    from harness.units import parse_duration
    return parse_duration(v) if isinstance(v, str) else float(v)


def _per_second(v: Any) -> float:
    from harness.units import parse_rate
    return parse_rate(v) if isinstance(v, str) else float(v)


def _consensus_run(proto: str, cfg: dict, seed: int, faults: bool) -> tuple[dict, list, list, list]:
    r = _rng(proto, json.dumps(cfg, sort_keys=True), seed)
    noise = lambda sd=0.03: float(r.normal(1.0, sd))  # noqa: E731
    n = int(_get(cfg, "cluster.nodes"))
    loss = float(_get(cfg, "network.loss"))
    clients = int(_get(cfg, "workload.clients"))
    pf = {"raft": 1.0, "multipaxos": 1.07}.get(proto, 0.9)
    cap = 52000 / (n - 1) ** 0.55 * pf * (1 - 2.5 * loss)
    rate = cfg["workload"].get("rate")
    if cfg["workload"].get("mode") == "open" and rate is not None:
        offered = _per_second(rate)
        util = min(0.96, offered / cap)
        thr = min(offered, cap * 0.97) * noise(0.01)
    else:
        util = min(0.96, clients * 160 / cap)
        thr = cap * util * noise()
    timeout_ms = _seconds(cfg["workload"].get("timeout", "200ms")) * 1000
    p50 = (1.9 + 0.12 * n + 0.35 / (1 - util) + (0.15 if proto == "multipaxos" else 0)) * noise(0.04)
    lost = 1 - (1 - loss) ** 4  # an operation is ~4 messages: one lost means a re-send after the timeout
    if lost > 0.012:  # more than 1% of operations wait for the retry timer: it sets p99
        p99 = timeout_ms + p50 * noise(0.05)
    else:
        p99 = p50 * (2.4 + 120 * loss + (0.3 if proto == "raft" else 0)) * noise(0.06)
    p999 = p99 * 1.9 * noise(0.08)
    fo_base = {"raft": 260.0, "multipaxos": 410.0}.get(proto, 330.0)
    failover = fo_base * noise(0.18) if faults else math.nan
    row = {
        "throughput_ops_s": thr, "latency_mean_ms": p50 * 1.25, "latency_p50_ms": p50,
        "latency_p95_ms": p99 * 0.62, "latency_p99_ms": p99, "latency_p999_ms": p999,
        "latency_max_ms": max(p999 * 2.7, failover if faults else 0),
        "ops_committed": int(thr * (DURATION_S - WARMUP_S)), "ops_failed": int(r.integers(0, 40)),
        "abort_rate": lost / 4 * noise(0.05),
        "messages_per_op": (0.55 if proto == "raft" else 0.62) * n + 1.1 + float(r.normal(0, 0.02)),
        "leader_changes": 2 if faults else 1,
        "failover_ms_mean": failover, "failover_ms_max": failover,
        "unavailable_ms": failover * 1.08 if faults else 0.0,
        "leader_cpu_utilization": min(0.99, util * 0.93 * noise(0.02)),
        "ops_outstanding": clients, "wall_s": 3.0 * noise(0.1), "safety": "ok", "safety_detail": "",
    }
    row["bytes_per_op"] = row["messages_per_op"] * 118
    events, series = [], []
    events.append({"time_s": 0.21, "node": 0, "kind": "leader", "detail": "term 1", "duration_ms": ""})
    if faults:
        fo_s = failover / 1000
        events += [
            {"time_s": 8.0, "node": 0, "kind": "crash", "detail": "leader", "duration_ms": 3000},
            {"time_s": 8.0 + fo_s, "node": 1, "kind": "leader", "detail": "term 2", "duration_ms": ""},
            {"time_s": 8.0 + fo_s, "node": 1, "kind": "failover", "detail": "", "duration_ms": round(failover, 3)},
            {"time_s": 11.0, "node": 0, "kind": "restart", "detail": "", "duration_ms": ""},
            {"time_s": 14.0, "node": 2, "kind": "isolate", "detail": "", "duration_ms": 2000},
            {"time_s": 16.0, "node": 2, "kind": "heal", "detail": "", "duration_ms": ""},
        ]
    for i in range(int(DURATION_S / 0.25)):
        t = i * 0.25
        at = t + 0.25  # the runner samples the leader at the bucket's end
        lead = "" if at < 0.21 else ("0" if not faults or at < 8.0 else ("" if at < 8.0 + failover / 1000 else "1"))
        up = 1.0
        if t < 0.25:
            up = 0.2
        if faults and 8.0 <= t + 0.25 and t < 8.0 + failover / 1000:
            up = max(0.0, (8.0 - t) / 0.25) + max(0.0, (t + 0.25 - 8.0 - failover / 1000) / 0.25)
        spike = faults and 8.0 <= t < 8.0 + failover / 1000 + 0.5
        series.append({
            "time_s": t, "throughput_ops_s": round(thr * up * noise(0.04), 1),
            "latency_p50_ms": round(p50 * noise(0.05) * (3 if spike else 1), 3) if up > 0 else "",
            "latency_p99_ms": round((max(p99, failover) if spike else p99) * noise(0.08), 3) if up > 0 else "",
            "leader": lead,
        })
    return row, events, series, _latency_hist(p50, p99, row["ops_committed"])


def _txn_run(proto: str, cfg: dict, seed: int, faults: bool) -> tuple[dict, list, list, list]:
    r = _rng(proto, json.dumps(cfg, sort_keys=True), seed)
    noise = lambda sd=0.03: float(r.normal(1.0, sd))  # noqa: E731
    theta = float(_get(cfg, "workload.distribution.theta"))
    wr = float(_get(cfg, "workload.write_ratio"))
    conflict = min(0.9, (0.01 + 0.55 * theta ** 6) * (0.3 + wr)) * noise(0.05)
    shares = {  # cause -> share of aborts
        "2pl": {"conflict": 0.15, "deadlock": 0.55, "timeout": 0.3},
        "occ": {"validation": 0.92, "conflict": 0.08},
        "2pc": {"conflict": 0.4, "deadlock": 0.3, "timeout": 0.15, "failure": 0.15},
    }.get(proto, {"conflict": 1.0})
    abort = min(0.95, conflict * {"2pl": 0.45, "occ": 1.1, "2pc": 0.55}.get(proto, 0.7) + 0.002)
    base = {"2pl": 21000, "occ": 25000, "2pc": 12500}.get(proto, 15000)
    thr = base * (1 - abort) / (1 + (2.2 if proto == "2pl" else 0.6) * conflict) * noise()
    p50 = {"2pl": 2.4, "occ": 2.0, "2pc": 4.1}.get(proto, 3.0) * (1 + 3 * conflict) * noise(0.04)
    p99 = p50 * (3.0 + 6 * conflict) * noise(0.06)
    attempts = thr * (DURATION_S - WARMUP_S) / (1 - abort)
    aborts = attempts * abort
    row = {
        "throughput_ops_s": thr, "latency_mean_ms": p50 * 1.3, "latency_p50_ms": p50,
        "latency_p95_ms": p99 * 0.6, "latency_p99_ms": p99, "latency_p999_ms": p99 * 1.8,
        "latency_max_ms": p99 * 4.2, "ops_committed": int(thr * (DURATION_S - WARMUP_S)),
        "ops_failed": int(aborts * 0.02), "abort_rate": abort,
        "messages_per_op": {"2pl": 6.1, "occ": 5.2, "2pc": 9.4}.get(proto, 7.0) * (1 + abort) * noise(0.01),
        "leader_changes": "", "failover_ms_mean": "", "failover_ms_max": "", "unavailable_ms": "",
        "leader_cpu_utilization": "", "wall_s": 2.5 * noise(0.1), "safety": "ok",
        "conflict_rate": conflict, "retries_per_txn": abort / (1 - abort),
        "lock_wait_ms_mean": (0.9 * conflict * 10 * noise(0.1)) if proto != "occ" else 0.0,
        "twopc_ms_mean": 2.2 * noise(0.05) if proto == "2pc" else "",
        "blocked_ms": 40 * conflict * noise(0.2) if proto == "2pc" else 0.0,
    }
    row["bytes_per_op"] = row["messages_per_op"] * 210
    for cause in ("conflict", "deadlock", "validation", "timeout", "failure"):
        row[f"aborts_{cause}"] = int(aborts * shares.get(cause, 0.0))
    row.update(dict.fromkeys(CONSENSUS_ZEROS, 0.0))
    events = []
    if faults:  # a coordinator crash from 8 s to 9 s stalls the transactions that need it
        outage = 1000 * noise(0.05)
        row.update(unavailable_ms=outage, unavailable_ms_fault=outage)
        events = [{"time_s": 8.0, "node": 1, "kind": "crash", "detail": "coordinator", "duration_ms": 1000},
                  {"time_s": 9.0, "node": 1, "kind": "restart", "detail": "", "duration_ms": ""},
                  {"time_s": 9.0, "node": "-", "kind": "unavailable", "detail": "fault: crash of 1",
                   "duration_ms": round(outage, 3)}]
    series = [{"time_s": i * 0.5, "throughput_ops_s": round(thr * noise(0.05) * (0.1 if faults and 8 <= i * 0.5 < 9
                                                                                  else 1), 1),
               "latency_p50_ms": round(p50 * noise(0.05), 3),
               "latency_p99_ms": round(p99 * noise(0.1), 3), "leader": ""} for i in range(40)]
    return row, events, series, _latency_hist(p50, p99, row["ops_committed"])


def make_results(out: Path, kind: str = "consensus", *, protocols: list[str] | None = None,
                 seeds: list[int] | tuple[int, ...] = (1, 2, 3), params: dict[str, list] | None = None,
                 faults: bool | None = None, violation: bool = False, extra_metric: bool = False,
                 reference: str | None = None, optional_files: bool = True,
                 config: dict[str, Any] | None = None, resolved: bool = False) -> Path:
    """Write runs.csv, events.csv, timeseries.csv, latencies.csv and manifest.json under ``out``.

    ``config``: dotted key -> value, set in the suite before the matrix. ``resolved``: write the
    manifest's configs as the runner does (durations in seconds, rates per second) and the swept
    columns of runs.csv as resolved numbers; otherwise as written. ``faults``: leader faults in a
    consensus suite (the default), a coordinator crash in a transaction suite (not the default)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    txn = kind == "transactions"
    faults = not txn if faults is None else faults
    protocols = protocols or (["2pl", "occ", "2pc"] if txn else ["raft", "multipaxos"])
    if params is None:
        params = ({"workload.distribution.theta": [0.5, 0.8, 0.99], "workload.write_ratio": [0.2, 0.8]}
                  if txn else {"cluster.nodes": [3, 5, 7]})
    base = json.loads(json.dumps(TXN_BASE if txn else CONSENSUS_BASE))
    base["seeds"] = len(seeds)
    base["matrix"] = {"protocol": protocols, **params}
    if not faults:
        base.pop("faults", None)
    elif txn:
        base["faults"] = json.loads(json.dumps(TXN_FAULTS))
    for key, v in (config or {}).items():
        _set(base, key, v)
    if resolved:
        base = _resolve(base)
    columns = ["suite", "kind", "run_id", "protocol", "seed", *params, *RUN_COLUMNS[:-2],
               *(TXN_COLUMNS if txn else []), *(["gc_pauses"] if extra_metric else []), "safety", "safety_detail"]
    rows, events, series, lats, man_runs = [], [], [], [], []
    k = 0
    for proto in protocols:
        for values in itertools.product(*params.values()):
            point = dict(zip(params, values))
            cfg = json.loads(json.dumps(base))
            cfg.pop("matrix")
            for key, v in point.items():
                _set(cfg, key, _resolve_value(key, v) if resolved else v)
            if resolved:
                point = {k: _resolve_value(k, v) for k, v in point.items()}
            cfg["protocol"] = proto
            for seed in seeds:
                k += 1
                run_id = f"{k:04d}-{proto}-s{seed}"
                if txn:
                    row, ev, ts, hist = _txn_run(proto, cfg, seed, faults)
                else:
                    row, ev, ts, hist = _consensus_run(proto, cfg, seed, faults)
                if extra_metric:
                    row["gc_pauses"] = int(_rng(run_id).integers(0, 9))
                if violation and k == 2:
                    row["safety"] = "violation: linearizability (lost write on key 17)"
                if violation and k == 3:
                    row["safety"] = "unknown"
                row.update({"suite": base["name"], "kind": kind, "run_id": run_id, "protocol": proto,
                            "seed": seed, **point})
                rows.append(row)
                events += [{"run_id": run_id, **e} for e in ev]
                series += [{"run_id": run_id, **s} for s in ts]
                lats += [{"run_id": run_id, "latency_ms": b, "count": c} for b, c in hist]
                man_runs.append({"run_id": run_id, "seed": seed, "params": {"protocol": proto, **point},
                                 "config": {**cfg, "seed": seed}})

    def write(name: str, cols: list[str], data: list[dict]) -> None:
        with open(out / name, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            for d in data:
                w.writerow({c: _cell(d.get(c, "")) for c in cols})

    write("runs.csv", columns, rows)
    if optional_files:
        write("events.csv", ["run_id", "time_s", "node", "kind", "detail", "duration_ms"], events)
        write("timeseries.csv", ["run_id", "time_s", "throughput_ops_s", "latency_p50_ms",
                                 "latency_p99_ms", "leader"], series)
        write("latencies.csv", ["run_id", "latency_ms", "count"], lats)
    manifest = {
        "suite": base["name"], "kind": kind, "source": f"configs/{base['name']}.yaml",
        "swept": ["protocol", *params], "reference": reference, "seeds": list(seeds),
        "distbench_version": "0.1.0", "git_commit": "3f2a9c1d0b7e", "python": "3.11.9",
        "packages": {"numpy": "2.4.6", "pandas": "3.1.1", "seaborn": "0.13.2"},
        "started": "2025-11-26T08:00:00Z", "finished": "2025-11-26T08:01:12Z",
        "suite_config": base, "runs": man_runs,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


# 4 x 6 points x 2 protocols x 3 seeds: every run diverges, so the report lists every run and
# every metric and is longer than GitHub's 65,536-character comment limit.
LONG_PARAMS = {"cluster.nodes": [3, 5, 7, 9], "network.loss": [0.0, 0.01, 0.02, 0.03, 0.05, 0.1]}
LONG_IGNORE = ("--ignore", "cluster.cpu_per_message")     # what the two sides of the long pair differ in


def make_long_pair(root: Path) -> tuple[Path, Path]:
    """A base and a new results directory whose comparison (with LONG_IGNORE) writes a report too
    long for a pull-request comment."""
    return (make_results(Path(root) / "base", params=LONG_PARAMS),
            make_results(Path(root) / "new", params=LONG_PARAMS, config={"cluster.cpu_per_message": "30us"}))


_DURATION_LEAVES = {"duration", "warmup", "cpu_per_message", "fsync", "mean", "std", "timeout",
                    "election_timeout", "at", "for", "mtbf", "mttr", "think_time"}


def _resolve_value(key: str, v: Any) -> Any:
    leaf = key.rsplit(".", 1)[-1]
    if isinstance(v, str) and leaf in _DURATION_LEAVES:
        return _seconds(v)
    if isinstance(v, str) and leaf == "rate":
        return _per_second(v)
    return v


def _resolve(d: Any, prefix: str = "") -> Any:
    if isinstance(d, dict):
        return {k: _resolve(v, f"{prefix}.{k}" if prefix else k) if k != "matrix" else v for k, v in d.items()}
    if isinstance(d, list):
        return [_resolve(v, prefix) for v in d]
    return _resolve_value(prefix, d)


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else round(v, 6)
    return v


if __name__ == "__main__":
    target = Path(sys.argv[1])
    kinds = sys.argv[2:] or ["consensus"]
    for kind in kinds:
        make_results(target / kind, kind)
        print(target / kind)
