
from harness.checkers import Durability, ElectionSafety, LinearizabilityResult, LogAgreement
from harness.checkers import combine

# ---------------------------------------------------------------------------------------------
# ElectionSafety


def test_election_safety_passes_one_leader_per_term():
    es = ElectionSafety()
    es.observe(1, 0, 0.1)
    es.observe(1, 0, 0.5)  # the same leader reported again
    es.observe(2, 3, 1.0)
    es.observe(4, 1, 2.0)  # terms may be skipped
    es.observe(3, 2, 2.1)  # and observed out of order
    assert es.verdict()[0] == "ok"
    assert es.terms == 4


def test_election_safety_catches_two_leaders_in_a_term():
    es = ElectionSafety()
    es.observe(1, 0, 0.1)
    es.observe(2, 1, 1.0)
    es.observe(2, 2, 1.25)
    es.observe(3, 0, 2.0)
    es.observe(3, 4, 2.5)  # only the first violation is reported
    status, detail = es.verdict()
    assert status == "violation"
    assert "term 2" in detail and "node 1" in detail and "node 2" in detail
    assert "t=1.250000s" in detail


# ---------------------------------------------------------------------------------------------
# LogAgreement


def _replicate(log, nodes, entries, t=0.0):
    for n in nodes:
        for i, uid in enumerate(entries, 1):
            log.applied(n, i, uid, t + i * 1e-3)


def test_log_agreement_passes_identical_logs_with_noops_and_restarts():
    log = LogAgreement()
    entries = [-1, 10, 11, -1, 12, 13]
    _replicate(log, [0, 1], entries)
    log.applied(2, 1, -1, 0.5)  # a lagging node
    log.applied(2, 2, 10, 0.5)
    log.restarted(1)  # crash: node 1 re-applies its log from the start
    _replicate(log, [1], entries + [14], t=1.0)
    _replicate(log, [0, 2], entries + [14], t=2.0)  # node 2 catches up; node 0 re-applies
    assert log.verdict() == ("ok", "7 indices agreed")
    assert len(log) == 7
    assert list(log.uids) == entries + [14]


def test_log_agreement_catches_divergent_commands():
    log = LogAgreement()
    _replicate(log, [0, 1], [5, 6, 7])
    log.applied(2, 1, 5, 1.0)
    log.applied(2, 2, 8, 1.5)  # a different command at index 2
    status, detail = log.verdict()
    assert status == "violation"
    assert "index 2" in detail and "node 0" in detail and "node 2" in detail
    assert "uid 6" in detail and "uid 8" in detail


def test_log_agreement_catches_divergence_after_restart():
    log = LogAgreement()
    _replicate(log, [0, 1, 2], [5, 6, 7])
    log.restarted(2)
    log.applied(2, 1, 5, 2.0)
    log.applied(2, 2, -1, 2.1)  # re-applied index 2 differently (a no-op instead of 6)
    status, detail = log.verdict()
    assert status == "violation" and "index 2" in detail and "no-op" in detail


def test_log_agreement_catches_a_skipped_index():
    log = LogAgreement()
    _replicate(log, [0], [5, 6, 7])
    log.applied(1, 1, 5, 1.0)
    log.applied(1, 3, 7, 1.1)  # skipped 2
    status, detail = log.verdict()
    assert status == "violation"
    assert "node 1" in detail and "skipped 2" in detail


def test_log_agreement_skip_after_restart_is_caught_too():
    log = LogAgreement()
    _replicate(log, [0, 1], [5, 6, 7])
    log.restarted(1)
    log.applied(1, 4, 8, 1.0)  # after a restart a node starts again at 1
    assert log.verdict()[0] == "violation"


def test_log_agreement_restart_from_snapshot():
    log = LogAgreement()
    _replicate(log, [0], [5, 6, 7, 8])
    log.restarted(1, 3)  # node 1 restored a snapshot covering 1..3
    log.applied(1, 4, 8, 1.0)
    assert log.verdict()[0] == "ok"
    log.restarted(2, 5)  # a snapshot beyond anything seen applied so far
    log.applied(2, 6, 9, 1.0)
    log.applied(0, 5, 99, 1.1)
    log.applied(0, 6, 9, 1.2)
    assert log.verdict()[0] == "ok"
    log.applied(1, 5, 98, 1.3)
    assert log.verdict()[0] == "violation"
    fresh = LogAgreement()
    fresh.restarted(0, 5)
    fresh.applied(0, 3, 42, 0.1)  # re-applying below its snapshot is accepted
    fresh.applied(0, 6, 43, 0.2)
    fresh.applied(1, 1, 40, 0.3)
    assert fresh.verdict()[0] == "ok" and len(fresh) == 6
    fresh.applied(1, 2, 41, 0.4)
    fresh.applied(1, 3, 44, 0.5)
    assert "index 3" in fresh.verdict()[1]


def test_log_agreement_is_compact():
    """200k indexes applied on three replicas keep one entry per index (its speed is measured by
    the benchmark, not asserted here: the machines are shared)."""
    log = LogAgreement()
    n = 200_000
    applied = log.applied
    for node in range(3):
        for i in range(1, n + 1):
            applied(node, i, i, 0.0)
    assert log.verdict()[0] == "ok"
    assert len(log) == n
    # columns, not objects
    assert log.uids.itemsize == 8 and len(log.uids) == n


# ---------------------------------------------------------------------------------------------
# Durability


def test_durability_passes_when_every_acked_write_is_applied():
    log = LogAgreement()
    _replicate(log, [0, 1, 2], [-1, 10, 11, 12])
    d = Durability()
    for uid in (10, 12, 11):
        d.acked_write(uid)
    assert d.verdict(log)[0] == "ok"
    assert Durability().verdict(log)[0] == "ok"  # nothing acknowledged


def test_durability_names_the_first_lost_write():
    log = LogAgreement()
    _replicate(log, [0, 1, 2], [-1, 10, 12])
    d = Durability()
    for uid in (10, (3 << 32) | 7, 12, 13):
        d.acked_write(uid)
    status, detail = d.verdict(log)
    assert status == "violation"
    assert f"uid {(3 << 32) | 7} (client 3 seq 7)" in detail
    assert "2 of 4" in detail
    assert Durability().verdict(LogAgreement())[0] == "ok"
    d = Durability()
    d.acked_write(1)
    assert d.verdict(LogAgreement())[0] == "violation"


# ---------------------------------------------------------------------------------------------
# combine


def test_combine():
    ok = ("ok", "")
    assert combine() == "ok"
    assert combine(ok, ("ok", "3 terms")) == "ok"
    assert combine(ok, ("unknown", "budget ran out")) == "unknown: budget ran out"
    assert combine(("unknown", "a"), ("violation", "two leaders"), ("violation", "b")) == \
        "violation: two leaders"
    lin = LinearizabilityResult("violation", "key 3: get returned 4", 0, 10)
    assert combine(ok, lin) == "violation: key 3: get returned 4"
    lin = LinearizabilityResult("unknown", "budget", 0, 10)
    assert combine(lin, ok).startswith("unknown")
    assert combine(None, ok).startswith("unknown")


def test_combined_streaming_run():
    es, log, dur = ElectionSafety(), LogAgreement(), Durability()
    es.observe(1, 0, 0.0)
    for i in range(1, 101):
        for n in range(3):
            log.applied(n, i, 1000 + i, i * 1e-3)
        dur.acked_write(1000 + i)
    assert combine(es.verdict(), log.verdict(), dur.verdict(log)) == "ok"
    es.observe(1, 2, 1.0)
    assert combine(es.verdict(), log.verdict(), dur.verdict(log)).startswith(
        "violation: two leaders in term 1")
