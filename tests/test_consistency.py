"""The checkers of weaker consistency models: each catches a history built to break it and
passes one that breaks only a stronger model."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings

from harness.checkers import check_linearizability
from harness.execution import runner
from harness.kinds.consensus.contract import EVENTUAL, REGULAR
from harness.protocol import register
from implementations.raft.node import RaftNode
from implementations.raft.options import RaftOptions
from harness.checkers.consistency import check_eventual, check_regular, check_sequential
from harness.history import INFO
from test_anomalies import histories
from test_linearizability import build, cas, get, put

# Two writes of key 1 one after the other, then a read of the first value after both completed:
# stale (not regular, not linearizable) but sequential: the reader may lag behind.
STALE = [put(1, 11, 0, 1, c=0), put(1, 12, 2, 3, c=1), get(1, 11, 4, 5, c=2)]
STALE_LOG = [11, 12]


def status(verdict):
    return verdict[0]


def test_eventual_catches_a_value_out_of_thin_air():
    h = build([put(1, 11, 0, 1), get(1, 99, 2, 3, c=1)])
    verdict = check_eventual(h)
    assert verdict[0] == "violation" and verdict[1].startswith("eventual: ")
    assert "no write of that key wrote" in verdict[1]


def test_eventual_catches_a_read_of_a_write_invoked_after_it_completed():
    assert status(check_eventual(build([get(1, 11, 0, 1, c=1), put(1, 11, 2, 3)]))) == "violation"


def test_eventual_catches_a_value_written_to_another_key():
    assert status(check_eventual(build([put(2, 11, 0, 1), get(1, 11, 2, 3, c=1)]))) == "violation"


def test_eventual_passes_a_stale_read():
    h = build(STALE)
    assert status(check_eventual(h)) == "ok"
    assert status(check_regular(h)) == "violation"


def test_regular_catches_a_stale_read_and_the_initial_value_after_a_write():
    verdict = check_regular(build(STALE))
    assert verdict[0] == "violation" and verdict[1].startswith("regular: ")
    assert status(check_regular(build([put(1, 11, 0, 1), get(1, 0, 2, 3, c=1)]))) == "violation"


def test_regular_passes_a_new_old_inversion_that_linearizability_fails():
    # a write concurrent with two reads: the first sees the new value, the second the old one
    ops = [put(1, 11, 0, 1), put(1, 12, 2, 10, c=1), get(1, 12, 3, 4, c=2), get(1, 11, 5, 6, c=3)]
    h = build(ops)
    assert status(check_regular(h)) == "ok"
    assert check_linearizability(h).status == "violation"


def test_regular_takes_an_indeterminate_write_as_concurrent_with_everything_after_it():
    h = build([put(1, 11, 0, 1, status=INFO), put(1, 12, 2, 3, c=1), get(1, 11, 4, 5, c=2)])
    assert status(check_regular(h)) == "ok"


def test_sequential_passes_a_stale_read_that_regular_fails():
    h = build(STALE)
    assert status(check_sequential(h, STALE_LOG)) == "ok"
    assert status(check_regular(h)) == "violation"


def test_sequential_catches_a_read_going_back_in_the_log():
    h = build(STALE[:2] + [get(1, 12, 4, 5, c=2), get(1, 11, 6, 7, c=2)])
    verdict = check_sequential(h, STALE_LOG)
    assert verdict[0] == "violation" and verdict[1].startswith("sequential: ")
    # across keys too: having seen index 2 (key 2's write), the client cannot see key 1 before
    # index 1's write
    h = build([put(1, 11, 0, 1, c=0), put(2, 21, 2, 3, c=1), get(2, 21, 4, 5, c=2),
               get(1, 0, 6, 7, c=2)])
    assert status(check_sequential(h, [11, 21])) == "violation"
    assert status(check_regular(h)) == "violation"  # (and stale, for a register)


def test_sequential_catches_a_client_not_reading_its_own_write():
    h = build([put(1, 11, 0, 1, c=0), get(1, 0, 2, 3, c=0)])
    assert status(check_sequential(h, [11])) == "violation"
    # another client may lag behind
    assert status(check_sequential(build([put(1, 11, 0, 1, c=0), get(1, 0, 2, 3, c=1)]), [11])) == "ok"


def test_sequential_catches_writes_out_of_real_time_order_in_the_log():
    h = build([put(1, 11, 0, 1, c=0), put(1, 12, 2, 3, c=1)])
    assert status(check_sequential(h, [11, 12])) == "ok"
    verdict = check_sequential(h, [12, 11])
    assert verdict[0] == "violation" and "log index" in verdict[1]


def test_sequential_catches_a_cas_acknowledged_against_the_log():
    h = build([put(1, 11, 0, 1, c=0), cas(1, 0, 12, True, 2, 3, c=1)])
    assert status(check_sequential(h, [11, 12])) == "violation"
    concurrent = build([put(1, 11, 0, 1, c=0), cas(1, 0, 12, True, 0.5, 3, c=1)])
    assert status(check_sequential(concurrent, [12, 11])) == "ok"
    h = build([put(1, 11, 0, 1, c=0), cas(1, 11, 12, True, 2, 3, c=1), get(1, 12, 4, 5, c=2)])
    assert status(check_sequential(h, [11, 12])) == "ok"


def test_sequential_catches_a_read_of_a_write_the_log_never_took():
    h = build([put(1, 11, 0, 10, status=INFO), get(1, 11, 2, 3, c=1)])
    assert status(check_sequential(h, [])) == "violation"
    assert status(check_sequential(h, [11])) == "ok"


def test_a_violation_of_each_model_has_its_own_class():
    from harness.checkers.verdicts import verdict_class

    h = build(STALE[:2] + [get(1, 12, 4, 5, c=2), get(1, 11, 6, 7, c=2)])
    assert verdict_class("violation: " + check_sequential(h, STALE_LOG)[1]) == "sequential consistency"
    assert verdict_class("violation: " + check_regular(build(STALE))[1]) == "regular register"
    thin = build([get(1, 99, 0, 1)])
    assert verdict_class("violation: " + check_eventual(thin)[1]) == "eventual consistency"


# -- a whole run is judged against what its protocol promises ----------------------------------

@register("raft-promising-eventual", kind="consensus", options=RaftOptions)
class EventualRaft(RaftNode):
    """Raft that promises only eventual consistency (its stale lease reads are then allowed)."""

    def consistency(self) -> str:
        return EVENTUAL


@register("raft-promising-regular", kind="consensus", options=RaftOptions)
class RegularRaft(RaftNode):
    def consistency(self) -> str:
        return REGULAR


def lease_run(make_suite, protocol):
    from test_leases import SLOW_CLOCK_PARTITION, STRAGGLERS, SUITE

    suite = make_suite(SUITE, f"protocol={protocol}", SLOW_CLOCK_PARTITION, *STRAGGLERS,
                       f"protocols.{protocol}.read=lease")
    (spec,) = suite.runs()
    return runner.run(spec, suite.name).row


def test_a_run_fails_only_when_it_breaks_its_own_promise(make_suite):
    # the drifting lease serves stale reads: a linearizable (or regular) promise is broken...
    assert lease_run(make_suite, "raft")["safety"].startswith("violation")
    regular = lease_run(make_suite, "raft-promising-regular")
    assert regular["safety"].startswith("violation: regular: "), regular["safety"]
    # ...an eventual one is kept, and the stale reads are measured instead
    eventual = lease_run(make_suite, "raft-promising-eventual")
    assert eventual["safety"] == "ok"
    assert eventual["safety_detail"] == "judged as eventual (the protocol's promise)"
    assert eventual["stale_read_share"] > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_each_model_allows_what_a_stronger_one_allows(ops):
    h = build(ops)
    regular, eventual = check_regular(h)[0], check_eventual(h)[0]
    if check_linearizability(h).status == "ok":
        assert regular == "ok"
    if regular == "ok":
        assert eventual == "ok"


GATE = Path(__file__).resolve().parent.parent / ".ci" / "gate" / "quickstart.yaml"


def test_a_linearizable_raft_run_with_a_leader_crash_passes_every_weaker_model(make_suite):
    suite = make_suite(GATE.read_text(), "seeds=1", "matrix={}",
                       "duration=0.8s", "faults.schedule=[{at: 0.4s, action: crash, target: leader, for: 0.2s}]")
    (spec,) = suite.runs()
    worlds = []
    assert runner.run(spec, suite.name, worlds.append).row["safety"] == "ok"
    world = worlds[0]
    assert status(check_sequential(world.history, world.log.uids)) == "ok"
    assert status(check_regular(world.history)) == "ok"


def test_sequential_catches_a_read_of_an_indeterminate_cas_that_does_not_swap_in_the_log():
    h = build([put(1, 11, 0, 1, c=0), cas(1, 0, 12, False, 2, 3, status=INFO, c=1),
               get(1, 12, 4, 5, c=2)])
    verdict = check_sequential(h, [11, 12])
    assert verdict[0] == "violation" and "does not swap" in verdict[1]
    assert status(check_regular(h)) == "ok"  # no order of writes to go by: it may have swapped
