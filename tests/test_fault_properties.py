"""Property: under any random fault schedule, every consensus protocol stays safe and recovers.

Hypothesis draws network loss and duplication, and a timeline of crashes, restarts, isolations,
partitions (one-way too), slow nodes, pauses and heals; each example is a full harness run whose every
checker (election safety, log agreement, durability, linearizability) must say ``ok``. At 2 s
everything is healed, restored and restarted: the cluster must serve clients again by 2.8 s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.execution import runner
from harness.suite.loading import load_suite

NODES = 5

step = st.fixed_dictionaries(
    {
        "at": st.integers(100, 1900).map(lambda ms: f"{ms}ms"),
        "action": st.sampled_from(["crash", "isolate", "partition", "slow", "pause", "restart", "heal"]),
        "target": st.one_of(st.sampled_from(["leader", "follower", "any"]),
                            st.lists(st.integers(0, NODES - 1), min_size=1, max_size=2, unique=True)),
        "for": st.one_of(st.none(), st.integers(50, 800).map(lambda ms: f"{ms}ms")),
        "one_way": st.booleans(),
    }
)


def _clean(s: dict) -> dict:
    s = dict(s)
    if s["action"] in ("restart", "heal"):
        s.pop("for", None)
        if s["action"] == "heal":
            s.pop("target", None)
    if s["action"] not in ("isolate", "partition"):
        s.pop("one_way", None)
    if s.get("for", "x") is None:
        s.pop("for")
    if s["action"] == "pause":
        s.setdefault("for", "300ms")  # a pause always ends (by 2.7 s at the latest)
    if s["action"] == "isolate" and isinstance(s.get("target"), list):
        s["target"] = s["target"][0]
    return s


RECOVERY = [{"at": "2s", "action": "heal"}, {"at": "2s", "action": "restore"},
            {"at": "2s", "action": "restart"}]


def run_with(protocol: str, schedule: list[dict], loss: float, duplicate: float, extra: dict):
    suite = {
        "name": "prop", "protocol": protocol, "duration": "3.5s", "warmup": "0.2s",
        "cluster": {"nodes": NODES},
        "network": {"loss": loss, "duplicate": duplicate},
        "workload": {"type": "kv", "clients": 6, "keys": 8, "read_ratio": 0.4, "cas_ratio": 0.2,
                     "timeout": "60ms", "retries": 40},
        "faults": {"schedule": [_clean(s) for s in schedule] + RECOVERY},
        **extra,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prop.yaml"
        path.write_text(yaml.safe_dump(suite))
        (spec,) = load_suite(path).runs()
    return runner.run(spec, "prop")


VARIANTS = {
    "raft": {},
    "raft-prevote-readindex": {"protocols": {"raft": {"prevote": True, "read": "readindex"}}},
    "multipaxos": {},
}

common = settings(max_examples=6, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow])


def _check(name: str, schedule, loss, dup) -> None:
    protocol = name.split("-")[0]
    result = run_with(protocol, schedule, loss, dup, VARIANTS[name])
    assert result.row["safety"] == "ok", (result.row["safety"], schedule)
    served = sum(b["throughput_ops_s"] for b in result.timeseries if b["time_s"] >= 2.8)
    assert served > 0, ("no progress after recovery", schedule)


@common
@given(schedule=st.lists(step, max_size=6), loss=st.sampled_from([0.0, 0.02, 0.1]),
       dup=st.sampled_from([0.0, 0.05]))
def test_raft_is_safe_under_random_faults(schedule, loss, dup):
    _check("raft", schedule, loss, dup)


@common
@given(schedule=st.lists(step, max_size=6), loss=st.sampled_from([0.0, 0.02, 0.1]),
       dup=st.sampled_from([0.0, 0.05]))
def test_raft_prevote_readindex_is_safe_under_random_faults(schedule, loss, dup):
    _check("raft-prevote-readindex", schedule, loss, dup)


@common
@given(schedule=st.lists(step, max_size=6), loss=st.sampled_from([0.0, 0.02, 0.1]),
       dup=st.sampled_from([0.0, 0.05]))
def test_multipaxos_is_safe_under_random_faults(schedule, loss, dup):
    _check("multipaxos", schedule, loss, dup)


pause = st.fixed_dictionaries(
    {
        "at": st.integers(100, 1900).map(lambda ms: f"{ms}ms"),
        "action": st.just("pause"),
        "target": st.one_of(st.sampled_from(["leader", "follower", "any"]),
                            st.lists(st.integers(0, NODES - 1), min_size=1, max_size=3, unique=True)),
        "for": st.integers(20, 800).map(lambda ms: f"{ms}ms"),
    }
)


@common
@given(schedule=st.lists(step, max_size=4), pauses=st.lists(pause, min_size=1, max_size=3),
       loss=st.sampled_from([0.0, 0.02]), protocol=st.sampled_from(["raft", "multipaxos"]))
def test_every_protocol_is_safe_when_nodes_pause(schedule, pauses, loss, protocol):
    _check(protocol, schedule + pauses, loss, 0.0)
