"""Failover and availability as users need them (docs/results.md, runs.csv columns): the three failover
times, unavailability over the whole window with its cause, and leaderless stretches."""

from __future__ import annotations

import math

import pytest

from harness.kinds.consensus.metrics import ConsensusMetrics


def metrics() -> ConsensusMetrics:
    m = ConsensusMetrics(warmup=1.0, bucket=0.1, gap=0.05, replicas=5)
    m.leader(0, 1, 0.2)
    return m


def ops(m: ConsensusMetrics, start: float, end: float, step: float = 0.001) -> None:
    t = start
    while t < end:
        m.completed(t - 0.0005, t)
        t += step


def test_failover_elected_majority_heard_and_first_commit():
    m = metrics()
    ops(m, 1.0, 2.0)
    m.leader_lost(2.0, "crash")
    m.leader(1, 2, 2.2)  # elected 200 ms after the crash
    m.observe(2, "heard_leader", 2, 2.201)
    m.observe(3, "heard_leader", 1, 2.202)  # an old term does not count
    m.observe(3, "heard_leader", 2, 2.203)  # the leader and two others: a majority of five
    ops(m, 2.25, 3.0)  # the first commit after it: 250 ms
    row = m.finish(3.0)
    assert row["failover_ms_mean"] == pytest.approx(200)
    assert row["failover_heard_ms_mean"] == pytest.approx(203)
    assert row["failover_commit_ms_mean"] == pytest.approx(250)


def test_an_outage_after_a_heal_counts_and_is_blamed_on_the_heal():
    m = metrics()
    ops(m, 1.0, 2.0)
    m.events.append((1.5, 4, "isolate", "", 500.0))
    m.events.append((2.0, "-", "heal", "", None))  # no fault is active after this
    m.observe(0, "stepped_down", 1, 2.001)  # the rejoining node deposes the leader
    m.leader(2, 7, 2.3)
    ops(m, 2.3, 3.0)
    m.events.append((3.5, 1, "crash", "", None))
    ops(m, 3.0, 3.5)
    ops(m, 3.7, 4.0)  # 200 ms after the crash
    row = m.finish(4.0)
    assert row["unavailable_ms_heal"] == pytest.approx(300, abs=2)
    assert row["unavailable_ms_fault"] == pytest.approx(200, abs=2)
    assert row["unavailable_ms"] == pytest.approx(500, abs=4)
    assert row["unavailable_ms_other"] == row["unavailable_ms_leader_change"] == 0
    kinds = [e[3].split(":")[0] for e in m.events if e[2] == "unavailable"]
    assert kinds == ["heal", "fault"]


def test_the_leader_lane_shows_a_step_down_as_a_leaderless_stretch():
    m = metrics()
    ops(m, 1.0, 2.0)
    m.observe(0, "stepped_down", 1, 2.01)
    m.leader(3, 2, 2.25)
    ops(m, 2.3, 2.5)
    m.finish(2.5)
    lane = {round(t, 1): leader for t, _, _, _, leader, _ in m.series}
    assert lane[2.0] is None and lane[2.1] is None and lane[2.2] == 3
    assert lane[1.9] == 0
    none = {round(t, 1): ms for t, _, _, _, _, ms in m.series}
    assert [none[t] for t in (1.9, 2.0, 2.1, 2.2)] == pytest.approx([0, 90, 100, 50])


def test_no_failover_no_failover_columns():
    m = metrics()
    ops(m, 1.0, 2.0)
    row = m.finish(2.0)
    assert math.isnan(row["failover_heard_ms_mean"]) and math.isnan(row["failover_commit_ms_mean"])
    assert row["unavailable_ms"] == 0
