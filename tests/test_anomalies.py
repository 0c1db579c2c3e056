"""The anomaly measures: each fires on a history built to contain its anomaly and stays quiet on
one built not to; the non-linearizable reads they count are never linearizable."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.checkers import check_linearizability
from harness.checkers.anomalies import measure
from harness.checkers.registers import next_min, prev_max, reads_of
from harness.execution import runner
from harness.history import GET, INFO, PUT
from test_linearizability import build, get, put


def anomalies(ops, since=0.0):
    return measure(reads_of(build(ops)), since)


# key 1: client 0 writes 11 at [0,1], client 1 writes 12 at [2,3] and 13 at [4,5]
WRITES = [put(1, 11, 0, 1, c=0), put(1, 12, 2, 3, c=1), put(1, 13, 4, 5, c=1)]


def test_a_stale_read_is_measured_with_its_versions_and_age():
    m = anomalies(WRITES + [get(1, 11, 7, 8, c=2), get(1, 13, 7, 8, c=3)])
    assert m["stale_read_share"] == 0.5
    assert m["staleness_versions_mean"] == 2  # it missed 12 and 13
    assert m["staleness_ms_mean"] == (7 - 3) * 1e3  # 11 was overwritten when 12 completed
    assert m["nonlinearizable_share"] == 0.5


def test_the_initial_value_after_a_completed_write_is_stale():
    m = anomalies([put(1, 11, 0, 1), get(1, 0, 2, 3, c=1)])
    assert m["stale_read_share"] == 1 and m["staleness_versions_mean"] == 1
    assert m["staleness_ms_mean"] == 1e3


def test_reads_of_current_or_concurrent_writes_are_not_stale():
    m = anomalies(WRITES + [get(1, 13, 6, 7, c=2), get(1, 12, 3.5, 4.5, c=3),
                            get(1, 13, 4.5, 6, c=3), get(1, 12, 4.5, 6, c=2)])
    assert m["stale_read_share"] == 0 and m["nonlinearizable_share"] == 0
    assert math.isnan(m["staleness_ms_mean"]) and math.isnan(m["staleness_versions_p99"])
    assert m["monotonic_read_violations"] == 0 and m["read_your_writes_violations"] == 0


def test_a_new_old_inversion_is_not_linearizable_but_not_stale():
    # 12 is written over [2, 10]; one read sees it at [3, 4], a later one sees 11 again
    ops = [put(1, 11, 0, 1), put(1, 12, 2, 10, c=1), get(1, 12, 3, 4, c=2), get(1, 11, 5, 6, c=3)]
    m = anomalies(ops)
    assert m["stale_read_share"] == 0
    assert m["nonlinearizable_share"] == 0.5
    assert m["monotonic_read_violations"] == 0  # two clients: no session went back


def test_a_value_from_the_future_or_thin_air_is_not_linearizable():
    assert anomalies([get(1, 11, 0, 1, c=1), put(1, 11, 2, 3)])["nonlinearizable_share"] == 1
    assert anomalies([get(1, 99, 0, 1)])["nonlinearizable_share"] == 1


def test_a_client_reading_back_in_time_breaks_monotonic_reads():
    ops = [put(1, 11, 0, 1), put(1, 12, 2, 10, c=1), get(1, 12, 3, 4, c=2), get(1, 11, 5, 6, c=2)]
    assert anomalies(ops)["monotonic_read_violations"] == 1
    # the same reads by the same client but the other way round go forward
    ops = [put(1, 11, 0, 1), put(1, 12, 2, 10, c=1), get(1, 11, 3, 4, c=2), get(1, 12, 5, 6, c=2)]
    assert anomalies(ops)["monotonic_read_violations"] == 0
    # initial value after a written one
    ops = [put(1, 11, 0, 10), get(1, 11, 1, 2, c=2), get(1, 0, 3, 4, c=2)]
    assert anomalies(ops)["monotonic_read_violations"] == 1


def test_a_client_missing_its_own_write_breaks_read_your_writes():
    m = anomalies([put(1, 11, 0, 1, c=0), put(1, 12, 2, 3, c=1), get(1, 11, 4, 5, c=1)])
    assert m["read_your_writes_violations"] == 1
    m = anomalies([put(1, 11, 0, 1, c=0), put(1, 12, 2, 3, c=1), get(1, 11, 4, 5, c=2)])
    assert m["read_your_writes_violations"] == 0 and m["stale_read_share"] == 1
    # a concurrent write of another client may win over one's own
    m = anomalies([put(1, 11, 0, 3, c=0), put(1, 12, 1, 2, c=1), get(1, 11, 4, 5, c=1)])
    assert m["read_your_writes_violations"] == 0


def test_an_indeterminate_write_is_stale_only_once_seen():
    # 11 may have taken effect at any time: a later write does not make a read of it stale...
    ops = [put(1, 11, 0, 1, status=INFO), put(1, 12, 2, 3, c=1), get(1, 11, 4, 5, c=2)]
    m = anomalies(ops)
    assert m["stale_read_share"] == 0 and m["nonlinearizable_share"] == 0
    # ...unless a read saw it before that write began: then it is gone
    ops = [put(1, 11, 0, 1, status=INFO), get(1, 11, 1.5, 1.8, c=3), put(1, 12, 2, 3, c=1),
           get(1, 11, 4, 5, c=2)]
    assert anomalies(ops)["nonlinearizable_share"] == 0.5


def test_only_reads_invoked_in_the_window_count():
    ops = WRITES + [get(1, 11, 7, 8, c=2), get(1, 13, 9, 10, c=3)]
    assert anomalies(ops, since=8.5)["stale_read_share"] == 0
    assert math.isnan(anomalies(ops, since=20)["stale_read_share"])


def test_scans_match_brute_force():
    rng = np.random.default_rng(7)
    seg_d, t_d, v_d = rng.integers(0, 4, 60), rng.integers(0, 20, 60).astype(float), rng.random(60)
    seg_q, t_q = rng.integers(0, 5, 40), rng.integers(0, 20, 40).astype(float)
    after, before = next_min(seg_d, t_d, v_d, seg_q, t_q), prev_max(seg_d, t_d, v_d, seg_q, t_q)
    for q in range(40):
        later = [v for s, t, v in zip(seg_d, t_d, v_d) if s == seg_q[q] and t > t_q[q]]
        earlier = [v for s, t, v in zip(seg_d, t_d, v_d) if s == seg_q[q] and t < t_q[q]]
        assert after[q] == min(later, default=np.inf)
        assert before[q] == max(earlier, default=-np.inf)


@st.composite
def histories(draw):
    """A few clients on two keys: puts of fresh values and gets of any value written so far."""
    ops, written, t = [], {1: [0], 2: [0]}, 0.0
    for n in range(draw(st.integers(1, 8))):
        k = draw(st.sampled_from([1, 2]))
        t0 = t + draw(st.integers(0, 2))
        t1 = t0 + draw(st.integers(1, 4))
        t = t0
        c = draw(st.integers(0, 2))
        if draw(st.booleans()):
            v = 100 + n
            written[k].append(v)
            ops.append(put(k, v, t0, t1, c=c, status=draw(st.sampled_from([1, 1, INFO]))))
        else:
            ops.append(get(k, draw(st.sampled_from(written[k])), t0, t1, c=c))
    return ops


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_a_history_with_non_linearizable_reads_is_not_linearizable(ops):
    h = build(ops)
    m = measure(reads_of(h), 0.0)
    if m["nonlinearizable_share"] > 0:
        assert check_linearizability(h).status == "violation"
    assert not m["stale_read_share"] > m["nonlinearizable_share"]


def brute_stale(ops):
    """Per ok get, the writes it missed, straight from the definition (None: not stale)."""
    writes = {o[3]: o for o in ops if o[1] == PUT}
    out = []
    for r in ops:
        if r[1] != GET:
            continue
        src = writes.get(r[7])
        end = -math.inf if r[7] == 0 else (src[6] if src[8] == 1 else math.inf)
        missed = [w for w in writes.values()
                  if w[2] == r[2] and w[8] == 1 and w[5] > end and w[6] < r[5]]
        out.append(len(missed) or None)
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_stale_reads_and_versions_match_their_definition(ops):
    expected = [v for v in brute_stale(ops) if v]
    m = measure(reads_of(build(ops)), 0.0)
    reads = sum(o[1] == GET for o in ops)
    if reads:
        assert m["stale_read_share"] == len(expected) / reads
    if expected:
        assert m["staleness_versions_mean"] == np.mean(expected)


def test_stale_lease_reads_of_a_drifting_leader_are_measured(make_suite):
    # the run of test_leases where the leader's lease outlasts the followers' vote guard
    from test_leases import SLOW_CLOCK_PARTITION, STRAGGLERS, SUITE

    def row(read):
        suite = make_suite(SUITE, "protocol=raft", SLOW_CLOCK_PARTITION, *STRAGGLERS,
                           f"protocols.raft.read={read}")
        (spec,) = suite.runs()
        return runner.run(spec, suite.name).row

    lease = row("lease")
    assert lease["safety"].startswith("violation")
    assert lease["stale_read_share"] > 0 and lease["staleness_ms_mean"] > 0
    assert lease["nonlinearizable_share"] >= lease["stale_read_share"]
    confirmed = row("readindex")
    assert confirmed["safety"] == "ok"
    assert confirmed["stale_read_share"] == 0 and confirmed["nonlinearizable_share"] == 0


def test_the_report_shows_the_anomalies_beside_throughput_and_latency(tmp_path):
    """A Consistency section right after Latency when some run has anomalies, and the stale and
    non-linearizable shares in "Where the difference comes from"; nothing of it when none has."""
    import pandas as pd

    from harness.report.document import build_document
    from harness.report.load import load_results
    from harness.report.markdown import render_markdown
    from report_fixtures import make_results

    d = make_results(tmp_path / "r", seeds=[1, 2, 3], optional_files=False)
    df = pd.read_csv(d / "runs.csv")
    raft = df["protocol"] == "raft"
    df["throughput_ops_s"] = np.where(raft, 4000.0, 5000.0) + df["seed"]
    for col in ("stale_read_share", "nonlinearizable_share", "monotonic_read_violations",
                "read_your_writes_violations", "staleness_ms_mean"):
        df[col] = 0.0
    df.to_csv(d / "runs.csv", index=False)

    def doc():
        return build_document(load_results(d), charts=[])

    quiet = doc()
    assert "Consistency" not in [s[0] for s in quiet.sections()]
    assert quiet.explained
    assert not any(r[0] in ("Stale reads", "Non-linearizable reads") for e in quiet.explained
                   for r in e.rows)

    df["stale_read_share"] = np.where(raft, 0.0, 0.12)
    df["nonlinearizable_share"] = np.where(raft, 0.0, 0.15)
    df["staleness_ms_mean"] = np.where(raft, np.nan, 3.5)
    df.to_csv(d / "runs.csv", index=False)
    loud = doc()
    families = [s[0] for s in loud.sections()]
    assert families[families.index("Latency") + 1] == "Consistency"
    e = loud.explained[0]
    rows = {r[0]: dict(zip(loud.res.contenders, r[1:])) for r in e.rows}
    assert rows["Stale reads"] == {"raft": "0.0 %", "multipaxos": "12.0 %"}
    assert rows["Non-linearizable reads"] == {"raft": "0.0 %", "multipaxos": "15.0 %"}
    md = render_markdown(loud, d / "report.md")
    assert "## Consistency" in md and "| stale reads" in md.lower()
