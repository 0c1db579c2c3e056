"""Swarm testing: a faulted sweep in which every seed draws which features and faults are on.

One fixed configuration with every fault kind at once reaches few of a protocol's paths: a
partition masks the crash that would have exposed a bug, and options left at their defaults
(log reads, no pre-vote, one-phase commit) leave whole branches unrun. Swarm testing (Groce et
al., "Swarm Testing", ISSTA 2012) draws, per seed, a random subset of the features and fault
kinds, so that over a modest number of seeds every path is reached, alone and in company.

:func:`draw` turns (protocol, seed) into a small suite, as it would be written in YAML;
:func:`sweep` runs seeds through the same runner as ``distbench run`` and returns each run's
verdict. Both are deterministic: the draw comes from ``random.Random(seed)``, the run from the
seed. The features only take values a protocol promises to be safe under (no clock fault with
lease reads: a lease trusts the clock by design).

Every fault heals at ``UNTIL`` (``faults.until``) and the run goes on: a protocol must then
recover: complete operations again between ``RECOVERED_BY`` and the end (and, for transactions,
settle in the drain). A run that does not is ``recovered=False``: a liveness
failure, as Jepsen's tests judge availability after healing the nemesis. Election timeouts are
150-300 ms, so the 0.6 s allowed is twice the longest election.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from harness import protocol as registry
from harness.execution import runner
from harness.suite.loading import load_suite

DURATION = 2.0       # seconds simulated
UNTIL = 1.0          # every fault heals here ...
RECOVERED_BY = 1.6   # ... and from here on operations must complete again

_NETWORK = {"latency": {"dist": "lognormal", "median": "500us", "sigma": 0.5}}


@dataclass(frozen=True)
class Outcome:
    """One swarm run: its seed, what was drawn (a suite as written) and the safety verdict."""

    seed: int
    suite: dict[str, Any]
    safety: str
    detail: str = ""
    committed: int = 0
    recovered: bool = True

    @property
    def safe(self) -> bool:
        return self.safety == "ok" or self.safety.startswith("ok ")

    @property
    def vacuous(self) -> bool:
        """Nothing committed: every checker passed for want of anything to check."""
        return self.committed == 0

    @property
    def verdict(self) -> str:
        """What is wrong with the run, in a line; "" when nothing is."""
        if not self.safe:
            return self.safety
        if self.vacuous:
            return "vacuous: 0 operations committed"
        if not self.recovered:
            return (f"did not recover: nothing completed from {RECOVERED_BY:g} s on (or the drain did "
                    f"not settle), after every fault healed at {UNTIL:g} s")
        return ""


def _faults(rng: random.Random, kind: str, lease: bool, leader: bool = True) -> dict[str, Any]:
    """Each fault kind on or off (half the time), with rates that fit in a short run; none aimed
    at a leader in a protocol without one (``leader`` false)."""
    faults: dict[str, Any] = {}
    if rng.random() < 0.5:
        targets = ["any", "leader"] if leader else ["any"]
        target = rng.choice(targets if kind == "consensus" else ["any", "coordinator", "participant"])
        faults["crash"] = {"mtbf": rng.choice(["300ms", "600ms"]), "mttr": rng.choice(["50ms", "200ms"]),
                           "target": target}
    if rng.random() < 0.5:
        shapes = ["random", "majority-minority"] + (["isolate-leader"] if kind == "consensus" and leader else [])
        faults["partition"] = {"mtbf": rng.choice(["300ms", "600ms"]), "duration": rng.choice(["100ms", "300ms"]),
                               "kind": rng.choice(shapes), "one_way": rng.random() < 0.3}
    if rng.random() < 0.4:
        faults["slow"] = {"mtbf": "400ms", "duration": "200ms", "factor": rng.choice([5.0, 20.0])}
    if rng.random() < 0.4:
        faults["pause"] = {"mtbf": "500ms", "duration": rng.choice(["50ms", "300ms"])}
    if not lease and rng.random() < 0.3:
        faults["clock"] = {"mtbf": "500ms", "duration": "300ms", "skew": rng.choice(["-50ms", "50ms"]),
                           "drift": rng.choice([-0.2, 0.2])}
    return faults


# The classic hazards, as fault steps triggered by a message (harness.faults.trigger): a voter
# crashing right after granting its vote, an acceptor right after its promise, a leader cut off
# right after phase 1 (its first Accept), a leader paused past its lease or cut off for longer
# than an election takes (it still has clients to answer); a coordinator crashing
# right after asking for votes, a participant right after voting, a coordinator right after
# sending a commit decision (its decision logged, its own commit not yet). A type a protocol never sends
# never fires, so a protocol whose messages differ has its own list, drawn instead of its kind's:
# ZAB's follower crashing right after joining a new epoch or acknowledging a proposal, its leader
# cut off right after synchronising a follower or proposing; a quorum coordinator crashing right
# after sending its writes, a replica right after acknowledging one, a coordinator cut off right
# after a read's answers; a saga's or TCC's home crashing right after settling, a part right
# after acknowledging its settlement, a part cut off right after asking its home.
_SETTLING = [{"action": "crash", "after": "Settle", "for": "100ms"},
             {"action": "crash", "after": "SettleAck", "for": "100ms"},
             {"action": "isolate", "after": "Ask", "for": "100ms"}]
_LEADER = [{"action": "pause", "target": "leader", "for": "300ms"},   # past its lease
           {"action": "isolate", "target": "leader", "for": "400ms"}]  # longer than an election
HAZARDS = {
    "consensus": [{"action": "crash", "after": "Vote granted=True", "for": "20ms"},
                  {"action": "crash", "after": "Promise", "for": "20ms"},
                  {"action": "isolate", "after": "Accept", "for": "200ms"},
                  {"action": "isolate", "after": "AppendEntries", "for": "200ms"},
                  *_LEADER,
                  # a vote request delivered after its election is over; an old leader's Accept
                  # delivered after a newer ballot's Prepare
                  {"action": "delay", "after": "RequestVote", "for": "300ms"},
                  {"action": "delay", "after": "Accept", "for": "300ms"}],
    "transactions": [{"action": "crash", "after": "Prepare", "for": "100ms"},
                     {"action": "crash", "after": "Vote", "for": "100ms"},
                     {"action": "isolate", "after": "Decision", "for": "100ms"},
                     {"action": "crash", "after": "Decision commit=true", "for": "100ms"}],
    "zab": [{"action": "crash", "after": "AckEpoch", "for": "20ms"},
            {"action": "crash", "after": "Ack", "for": "20ms"},
            {"action": "isolate", "after": "Sync", "for": "200ms"},
            {"action": "isolate", "after": "Proposal", "for": "200ms"},
            *_LEADER],
    "quorum": [{"action": "crash", "after": "Mutation", "for": "50ms"},
               {"action": "crash", "after": "MutationAck", "for": "50ms"},
               {"action": "isolate", "after": "ReadResult", "for": "100ms"}],
    "saga": _SETTLING, "tcc": _SETTLING,
}


def _hazards(rng: random.Random, protocol: str, kind: str) -> list[dict[str, Any]]:
    """Up to two targeted steps, each at a random moment of the run."""
    steps = HAZARDS.get(protocol, HAZARDS[kind])
    return [{"at": f"{rng.randint(3, 9) / 10}s", **step}
            for step in rng.sample(steps, rng.choice([0, 0, 1, 2]))]


def _network(rng: random.Random) -> dict[str, Any]:
    """Loss and duplication on or off; over the stream transport (in order, losses re-sent below
    the protocol) or datagrams (reordered, lost and duplicated messages reach the protocol, so
    its own retransmission, reordering and deduplication paths run)."""
    network: dict[str, Any] = {**_NETWORK, "transport": rng.choice(["stream", "datagram"])}
    if rng.random() < 0.5:
        network["loss"] = rng.choice([0.01, 0.05])
    if rng.random() < 0.5:
        network["duplicate"] = rng.choice([0.01, 0.05])
    return network


def _consensus(rng: random.Random, protocol: str, options: Any) -> tuple[dict[str, Any], bool]:
    fields = type(options).model_fields
    chosen: dict[str, Any] = {}
    if "read" in fields:
        chosen["read"] = rng.choice(list(fields["read"].annotation.__args__))
    if "prevote" in fields:
        chosen["prevote"] = rng.random() < 0.5
    if "check_quorum" in fields and chosen.get("read") != "lease":
        chosen["check_quorum"] = rng.random() < 0.7
    suite: dict[str, Any] = {"cluster": {"nodes": rng.choice([3, 5])},
                             "workload": {"type": "kv", "clients": rng.choice([4, 8]), "keys": rng.choice([3, 10]),
                                          "read_ratio": rng.choice([0.2, 0.5, 0.8]), "timeout": "50ms",
                                          "retries": 50},
                             "replication": {"batch_size": rng.choice([1, 64]), "pipeline": rng.choice([1, 8])}}
    if rng.random() < 0.5:  # election timeouts drawn from 150-160 ms, not 150-300: split votes
        suite["replication"]["election_timeout_max"] = "160ms"
    if chosen:
        suite["protocols"] = {protocol: chosen}
    return suite, chosen.get("read") == "lease"


def _transactions(rng: random.Random, protocol: str, options: Any) -> dict[str, Any]:
    fields = type(options).model_fields
    chosen: dict[str, Any] = {}
    for name in ("participants", "deadlock", "validation", "termination", "detect", "recovery",
                 "replication"):
        if name in fields:
            chosen[name] = rng.choice(list(fields[name].annotation.__args__))
    for name in ("one_phase", "serializable"):
        if name in fields:
            chosen[name] = rng.random() < 0.5
    if "retention" in fields:  # short: attempts whose snapshot is too old
        chosen["retention"] = rng.choice(["1s", "20ms"])
    partitions = rng.choice([3, 4])
    common = {"clients": rng.choice([4, 8]), "multi_partition": rng.choice([0.3, 0.8]),
              "timeout": "50ms", "retries": 50,
              "distribution": {"type": "zipfian", "theta": rng.choice([0.0, 0.99])}}
    bank_only = "ycsb" not in (registry.get(protocol).workloads or ("ycsb",))  # saga, tcc
    if bank_only or rng.random() < 0.5:
        workload = {"type": "bank", "accounts": rng.choice([8, 60]), **common}
    else:
        workload = {"type": "ycsb", "keys": rng.choice([20, 200]), "ops": rng.choice([2, 4]),
                    "read_ratio": rng.choice([0.2, 0.5, 0.8]),
                    "partitions_per_txn": rng.choice([2, partitions]), **common}
    suite: dict[str, Any] = {"cluster": {"partitions": partitions}, "workload": workload}
    if chosen:
        suite["protocols"] = {protocol: chosen}
    return suite


# R and W that meet on a replica whatever N is: one + all = N + 1, 2 (N // 2 + 1) > N.
_MEETING = [("one", "all"), ("quorum", "quorum"), ("quorum", "all"), ("all", "one"),
            ("all", "quorum"), ("all", "all")]


def _store(rng: random.Random, options: Any) -> dict[str, Any]:
    """A leaderless store's levels and repair (``quorum``). Half the seeds draw a strict store
    (R + W > N, no sloppy quorum, client timestamps), which promises regular reads; the other
    half any mix of R and W (one, quorum, all), sloppy quorum and client or coordinator
    timestamps, which may promise only eventual consistency. Hinted handoff either way. Each run
    is judged against the promise of what it drew."""
    fields = type(options).model_fields
    if "read_consistency" not in fields:
        return {}
    strict = rng.random() < 0.5
    if strict:
        r, w = rng.choice(_MEETING)
    else:
        r, w = rng.choice(["one", "quorum", "all"]), rng.choice(["one", "quorum", "all"])
    return {"read_consistency": r, "write_consistency": w, "hinted_handoff": rng.random() < 0.5,
            "sloppy_quorum": not strict and rng.random() < 0.5,
            "timestamps": "client" if strict else rng.choice(["client", "coordinator"])}


# Options a protocol needs to recover, whatever the seed drew: ZooKeeper's leader always gives up
# without a quorum of followers (syncLimit), so ZAB without the quorum check promises no recovery:
# a leader cut off one way keeps leading after the cut heals, beside the one the others elected,
# and a third server finds no quorum naming either.
_FIXED = {"zab": {"check_quorum": True}}


def _stream(protocol: str, seed: int, feature: str) -> random.Random:
    """The random stream of one feature added after the first seeds were judged: drawing it
    leaves every other draw of the seed as it was."""
    return random.Random(f"swarm:{protocol}:{seed}:{feature}")


def _later(protocol: str, seed: int, options: Any) -> dict[str, Any]:
    """Features added after the sweep's first seeds were judged, each drawn from a stream of its
    own so that every other draw of a seed stays what it was: a short ``idle_timeout`` (a quiet
    part asks its home mid-run in saga and tcc, a participant aborts an unprepared attempt in
    2pc); no ``finalize_wait`` in zab (an election ends as soon as a quorum agrees)."""
    fields = type(options).model_fields
    chosen: dict[str, Any] = {}
    if "idle_timeout" in fields:
        chosen["idle_timeout"] = _stream(protocol, seed, "idle_timeout").choice(["0.5s", "30ms"])
    if "finalize_wait" in fields and _stream(protocol, seed, "finalize_wait").random() < 0.3:
        chosen["finalize_wait"] = "0s"  # zab: an election ends as soon as a quorum agrees
    return chosen


def draw(protocol: str, seed: int) -> dict[str, Any]:
    """The swarm suite of ``protocol`` for ``seed``: the features and faults it drew, as YAML data."""
    spec = registry.get(protocol)
    rng = random.Random(f"swarm:{protocol}:{seed}")
    options = spec.options()
    if spec.kind == "consensus":
        body, lease = _consensus(rng, protocol, options)
        store = _store(rng, options)
        if store:
            body.setdefault("protocols", {}).setdefault(protocol, {}).update(store)
        # clients to the leader or to any node, from a stream of its own: the seed's other draws stay
        body["workload"]["routing"] = _stream(protocol, seed, "routing").choice(["leader", "any"])
    else:
        body, lease = _transactions(rng, protocol, options), False
        workload = body["workload"]
        if workload["type"] == "bank" and workload["accounts"] >= 3 * body["cluster"]["partitions"]:
            # WriteCheck transactions read an account and then write it: 2PL's lock upgrades
            workload["writecheck_ratio"] = _stream(protocol, seed, "writecheck").choice([0.0, 0.3])
    later = {**_later(protocol, seed, options), **_FIXED.get(protocol, {})}
    if later:
        body.setdefault("protocols", {}).setdefault(protocol, {}).update(later)
    suite = {"name": f"swarm-{protocol}-{seed}", "kind": spec.kind, "protocol": protocol,
             "duration": f"{DURATION:g}s", "warmup": "0.1s", "seed": seed, "seeds": 1,
             "network": _network(rng), **body}
    faults = _faults(rng, spec.kind, lease, not spec.leaderless)
    schedule = _hazards(rng, protocol, spec.kind)
    if schedule:
        faults["schedule"] = schedule
    if faults:
        suite["faults"] = {**faults, "until": f"{UNTIL:g}s"}
    return suite


def run_suite(data: dict[str, Any]) -> runner.RunResult:
    """Run the one run of the suite ``data`` (as :func:`draw` returns it)."""
    with tempfile.TemporaryDirectory(prefix="distbench-swarm-") as tmp:
        path = Path(tmp) / f"{data['name']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
        suite = load_suite(path)
    (spec,) = suite.runs()
    return runner.run(spec, suite.name)


def recovered(result: runner.RunResult) -> bool:
    """Did the run complete operations from RECOVERED_BY on (and settle its drain)?"""
    from harness.kinds.transactions.world import DRAIN

    tail = [b["throughput_ops_s"] for b in result.timeseries if b["time_s"] >= RECOVERED_BY - 1e-9]
    return sum(tail) > 0 and float(result.row.get("drain_s") or 0.0) < DRAIN


def sweep(protocol: str, seeds: Iterable[int]) -> list[Outcome]:
    """Run the swarm suite of every seed; each run's verdict, in seed order."""
    outcomes = []
    for seed in seeds:
        data = draw(protocol, seed)
        result = run_suite(data)
        row = result.row
        outcomes.append(Outcome(seed, data, str(row["safety"]), str(row.get("safety_detail") or ""),
                                int(row.get("ops_committed") or 0), recovered(result)))
    return outcomes
