"""A run stuck inside the simulator -- a handler that never returns, or events that never let
simulated time move -- is stopped by its watchdog within seconds, not by the wall-clock limit:
its row names the protocol and the handler, and the suite's other runs are kept."""

from __future__ import annotations

import csv
import re

from harness.execution.executor import Limits, run_suite
from harness.protocol import register
from implementations.raft.node import RaftNode
from implementations.raft.options import RaftOptions


@register("bug-raft-endless-timer", kind="consensus", options=RaftOptions)
class EndlessTimer(RaftNode):
    """Its first election timeout never returns."""

    def on_timer(self, ctx, name):
        while True:
            pass


@register("bug-raft-zero-timer", kind="consensus", options=RaftOptions)
class ZeroTimer(RaftNode):
    """Re-arms a timer of zero delay for ever: simulated time never moves past its start."""

    def on_timer(self, ctx, name):
        if name == "spin":
            ctx.set_timer("spin", 0.0)
        else:
            super().on_timer(ctx, name)

    def start(self, ctx, stable):
        super().start(ctx, stable)
        ctx.set_timer("spin", 0.05)


SUITE = """
name: stalls
duration: 1s
warmup: 0.1s
cluster: {nodes: 3, cpu_per_message: 0s}  # free handlers: a zero-delay timer never lets time move
workload: {type: kv, clients: 2, keys: 5, timeout: 50ms}
matrix:
  protocol: [bug-raft-endless-timer, raft, bug-raft-zero-timer]
"""


def test_a_stuck_run_is_stopped_and_named_and_the_others_are_kept(make_suite, tmp_path):
    suite = make_suite(SUITE)
    run_suite(suite, tmp_path / "out", progress=False, limits=Limits(stall=0.5))
    with open(tmp_path / "out" / "runs.csv") as f:
        safety = {r["protocol"]: r["safety"] for r in csv.DictReader(f)}
    assert safety["raft"] == "ok"
    endless = safety["bug-raft-endless-timer"]
    assert endless.startswith("error: stalled: a handler of protocol bug-raft-endless-timer has not "
                              "returned for 0.5 s of wall-clock at simulated "), endless
    assert re.search(r", in EndlessTimer\.on_timer \(test_stall_watchdog\.py:\d+\)$", endless), endless
    spin = safety["bug-raft-zero-timer"]
    assert spin.startswith("error: livelock: protocol bug-raft-zero-timer ran events for 0.5 s of "
                           "wall-clock without simulated time moving from 0.05"), spin
    assert "\n" not in endless + spin
