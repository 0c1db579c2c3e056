"""Safety of a transaction run: serializability, atomicity, durability, exactly-once, invariants.

The checker is fed during the run with one observation per (partition, committed transaction):
the versions it read there and the versions its writes replaced (``CommitObs``), delivered by the
host only once the partition's log is durable up to that commit (a crash voids the rest). It is
told which attempts clients saw commit -- with the version of every key the client read and the
keys it wrote, as the client saw them -- and it reads the partitions' final stores after the run
has drained (faults healed, crashed nodes restarted, in-doubt transactions resolved).

Checks, each a ``(status, detail)`` verdict (``ok``, ``violation`` or ``unknown``):

serializability, or snapshot isolation (what the protocol promises)
    The direct serialization graph of committed transactions (Adya): ``Ti -ww-> Tj`` when Tj's
    write replaced Ti's version, ``Ti -wr-> Tj`` when Tj read Ti's version, ``Ti -rw-> Tj`` when
    Ti read a version that Tj's write replaced. Versions are named by their writer, so the
    version order of a key is the chain of "replaced" links. Reading a version no committed
    transaction wrote (G1a: an aborted or lost write) and two writers replacing the same version
    (a lost update) are violations under either promise.
    *Serializable*: the graph must be acyclic; a cycle is reported edge by edge.
    *Snapshot isolation*: every cycle must contain two consecutive rw edges (Fekete et al., TODS
    2005: under SI, ww and wr edges go from a commit to a later start and an rw edge from a
    start to a later commit, so a cycle -- indeed any closed walk -- without two rw edges in a
    row would need a start later than itself). A cycle without them -- G0 (ww only), G1c (ww
    and wr), or one with single rw edges such as a lost update through a stale read (G-single,
    read skew) -- is a violation; the cycles SI allows (write skew, G2 with consecutive
    anti-dependencies) are counted, not failed.
    Fast path: in a correct serial-order run every edge goes forward in commit-time order, so the
    cycle search runs only when some edge goes backward.
anomalies (measured under either promise)
    ``write_skew``: the strongly connected components of the graph with more than one
    transaction (each holds at least one cycle; in a run that keeps its SI promise every such
    cycle has two consecutive rw edges: write skew, or the read-only anomaly).
atomicity
    A transaction committed at one of its partitions is committed at all of them. And what the
    partitions committed is what the client ran: for every attempt a client saw commit, each
    partition it used committed exactly the writes the client made there, having read the
    versions the client was shown (a partition that lost part of a transaction in a crash and
    committed the rest is caught here, whatever the workload).
durability
    Every attempt a client saw commit is committed everywhere, and every key any recovered store
    holds (and every key a committed transaction wrote) ends at the last version of its chain,
    with the value written, on the partition it belongs to.
exactly-once
    At most one attempt of each client transaction (client, seq) commits writes. (A read-only
    one-phase commit logs nothing, so a coordinator that crashes may forget it and answer a
    later inquiry "aborted"; its retry then commits too, harmlessly: it has no effects.)
bank invariant (bank workload)
    The total balance is unchanged at the end, at every quiescent point the run passed through,
    and after every committed transaction in serialization order (each one's writes change the
    balances they replaced by a net zero).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from harness.kinds.transactions.contract import (
    ATOMIC_IN_THE_END, SERIALIZABLE, SNAPSHOT_ISOLATION, CommitObs, tid_logical, tid_str,
)

__all__ = ["TxnChecker", "find_cycle", "describe_cycle", "strong_components", "walk_without_rw_pair"]


def find_cycle(adjacency: dict[int, list[tuple[int, str]]], starts: Iterable[int] | None = None
               ) -> list[tuple[int, str, int]] | None:
    """A cycle of a directed graph given as ``node -> [(successor, label)]``, as a list of
    ``(src, label, dst)`` edges, or None. Iterative DFS; ``starts`` limits the roots."""
    WHITE, GRAY, BLACK = 0, 1, 2
    color: dict[int, int] = {}
    for root in (adjacency if starts is None else starts):
        if color.get(root, WHITE) != WHITE:
            continue
        color[root] = GRAY
        path: list[tuple[int, str]] = [(root, "")]
        stack = [iter(adjacency.get(root, ()))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                node, _ = path.pop()
                color[node] = BLACK
                continue
            nxt, label = step
            c = color.get(nxt, WHITE)
            if c == GRAY:  # back edge: the cycle is the path from nxt to here, plus this edge
                nodes = [n for n, _ in path]
                i = nodes.index(nxt)
                cycle = [(path[j][0], path[j + 1][1], path[j + 1][0]) for j in range(i, len(path) - 1)]
                cycle.append((path[-1][0], label, nxt))
                return cycle
            if c == WHITE:
                color[nxt] = GRAY
                path.append((nxt, label))
                stack.append(iter(adjacency.get(nxt, ())))
    return None


def strong_components(adjacency: dict[int, list[tuple[int, str]]]) -> list[list[int]]:
    """The strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    found: list[list[int]] = []
    counter = 0
    for root in adjacency:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(adjacency.get(root, ())))]
        while work:
            node, successors = work[-1]
            step = next(successors, None)
            if step is not None:
                nxt = step[0]
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(adjacency.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def walk_without_rw_pair(adjacency: dict[int, list[tuple[int, str]]]
                         ) -> list[tuple[int, str, int]] | None:
    """A closed walk with no two consecutive rw edges (snapshot isolation forbids one), or None.
    Searched as a cycle of the graph whose nodes are (transaction, entered by an rw edge)."""
    product: dict[int, list[tuple[int, str]]] = {}
    for src, edges in adjacency.items():
        for came_by_rw in (0, 1):
            out = product[2 * src + came_by_rw] = []
            for dst, label in edges:
                rw = label.startswith("rw")
                if not (came_by_rw and rw):
                    out.append((2 * dst + rw, label))
    walk = find_cycle(product)
    return None if walk is None else [(a // 2, label, b // 2) for a, label, b in walk]


def describe_cycle(cycle: list[tuple[int, str, int]]) -> str:
    """``c1.2#1 -rw(k=5)-> c3.4#1 -ww(k=7)-> c1.2#1``."""
    parts = [tid_str(cycle[0][0])]
    for _, label, dst in cycle:
        parts.append(f"-{label}-> {tid_str(dst)}")
    return " ".join(parts)


class TxnChecker:
    """Collects commit observations during a run; :meth:`verdicts` checks them at the end.

    ``initial``: the value of every key's version 0. ``bank``: the number of accounts when the
    workload is the bank (its invariant is then checked). ``partitions``: key ``k`` lives on
    partition ``k % partitions``. ``isolation``: what the protocol promises (``SERIALIZABLE`` or
    ``SNAPSHOT_ISOLATION``). After :meth:`verdicts`, ``write_skew`` holds the anomaly count."""

    def __init__(self, initial: int = 0, bank: int | None = None, partitions: int = 1,
                 isolation: str = SERIALIZABLE):
        self.initial = initial
        self.bank = bank
        self.partitions = partitions
        self.isolation = isolation
        self.write_skew = 0
        self.commits: dict[tuple[int, int], CommitObs] = {}  # (partition, tid) -> observation
        self.first: dict[int, tuple[float, int]] = {}        # tid -> (time, arrival) first seen
        self.acked_tids: list[int] = []
        # tid -> ((key, version read), ...), (key written, ...): what its client saw
        self.views: dict[int, tuple[tuple[tuple[int, int], ...], tuple[int, ...]]] = {}
        self.quiescent: list[tuple[float, int]] = []         # (time, total balance)
        self.twice: str = ""

    # -- feeding -------------------------------------------------------------------------------
    def commit(self, node: int, obs: CommitObs, t: float) -> None:
        key = (node, obs.tid)
        if key in self.commits:
            if not self.twice:
                self.twice = f"{tid_str(obs.tid)} applied twice at partition {node} (t={t:.6f}s)"
            return
        self.commits[key] = obs
        if obs.tid not in self.first:
            self.first[obs.tid] = (t, len(self.first))

    def acked(self, tid: int, reads: Iterable[tuple[int, int]] | None = None,
              writes: Iterable[int] | None = None) -> None:
        """A client saw ``tid`` commit, having read ``reads`` ((key, version) pairs) and written
        ``writes`` (keys); None: not reported (only durability is checked)."""
        self.acked_tids.append(tid)
        if reads is not None or writes is not None:
            self.views[tid] = (tuple(reads or ()), tuple(writes or ()))

    def quiescent_total(self, t: float, total: int) -> None:
        self.quiescent.append((t, total))

    # -- checking ------------------------------------------------------------------------------
    def verdicts(self, stores: list[Any] | None = None, in_doubt: set[tuple[int, int]] = frozenset()
                 ) -> list[tuple[str, str]]:
        """Every check's verdict. ``stores``: the partitions' final stores (``Store``), index =
        partition; ``in_doubt``: (partition, tid) still unresolved when the run ended."""
        if self.isolation == ATOMIC_IN_THE_END:  # no isolation: the end state (checkers.settlement)
            return [self._bank({}, {}, stores)] if self.bank is not None else []
        by_tid: dict[int, list[tuple[int, CommitObs]]] = defaultdict(list)
        for (node, tid), obs in self.commits.items():
            by_tid[tid].append((node, obs))
        committed = by_tid.keys()
        out = [("violation", self.twice) if self.twice else ("ok", "")]
        out.append(self._atomicity(by_tid, in_doubt))
        out.append(self._as_the_client_saw(in_doubt))
        out.append(self._exactly_once(tid for tid, seen in by_tid.items()
                                      if any(obs.installs for _, obs in seen)))
        nxt, values, problem = self._versions(by_tid)
        out.append(problem)
        out.append(self._serializable(by_tid, nxt))
        out.append(self._durability(committed, nxt, values, stores))
        if self.bank is not None:
            out.append(self._bank(by_tid, values, stores))
        return out

    def _atomicity(self, by_tid: dict, in_doubt: set) -> tuple[str, str]:
        unresolved = 0
        for tid, seen in by_tid.items():
            parts = seen[0][1].participants
            if len(seen) == len(parts):
                continue
            have = {node for node, _ in seen}
            missing = [p for p in parts if p not in have]
            if all((p, tid) in in_doubt for p in missing):
                unresolved += 1
                continue
            return "violation", (f"atomicity: {tid_str(tid)} committed at partition(s) "
                                 f"{sorted(have)} but not at {missing}")
        if unresolved:
            return "unknown", f"atomicity: {unresolved} transaction(s) still in doubt at the end"
        return "ok", ""

    def _as_the_client_saw(self, in_doubt: set) -> tuple[str, str]:
        """Each attempt a client saw commit committed, at each partition it used, exactly the
        writes it made there, having read the versions it was shown."""
        P, commits, unresolved = self.partitions, self.commits, 0
        for tid, (reads, writes) in self.views.items():
            parts: dict[int, tuple[dict[int, int], set[int]]] = {}
            for key, version in reads:
                parts.setdefault(key % P, ({}, set()))[0].setdefault(key, version)
            for key in writes:
                parts.setdefault(key % P, ({}, set()))[1].add(key)
            name = tid_str(tid)
            for p, (read, wrote) in sorted(parts.items()):
                obs = commits.get((p, tid))
                if obs is None:
                    if (p, tid) in in_doubt:
                        unresolved += 1
                    elif tid in self.first:  # (committed nowhere: durability says so)
                        keys = ", ".join(map(str, sorted(read.keys() | wrote)))
                        return "violation", (f"atomicity: {name} committed, but not at partition "
                                             f"{p}, where its client used key(s) {keys}")
                    continue
                installed = {key for key, _, _ in obs.installs}
                for key in sorted(wrote - installed):
                    return "violation", (f"atomicity: {name} committed at partition {p} without "
                                         f"its write of key {key}, which the client made "
                                         "(lost in a crash?)")
                for key in sorted(installed - wrote):
                    return "violation", (f"atomicity: {name} committed a write of key {key} at "
                                         f"partition {p} that its client never made")
                got = dict(obs.reads)
                for key, version in sorted(read.items()):
                    if got.get(key) != version:
                        there = (f"version {tid_str(got[key])}" if key in got else "no read of it")
                        return "violation", (f"atomicity: {name}'s client read key {key} at "
                                             f"version {tid_str(version)}, but partition {p} "
                                             f"committed it with {there}")
        if unresolved:
            return "unknown", f"atomicity: {unresolved} transaction(s) still in doubt at the end"
        return "ok", ""

    @staticmethod
    def _exactly_once(writers: Iterable[int]) -> tuple[str, str]:
        seen: dict[int, int] = {}
        for tid in writers:
            logical = tid_logical(tid)
            other = seen.setdefault(logical, tid)
            if other != tid:
                return "violation", (f"exactly-once: two attempts of one transaction committed: "
                                     f"{tid_str(min(other, tid))} and {tid_str(max(other, tid))}")
        return "ok", ""

    def _versions(self, by_tid: dict) -> tuple[dict, dict, tuple[str, str]]:
        """(next version of (key, version), value of (key, version), verdict on forks)."""
        nxt: dict[tuple[int, int], int] = {}
        values: dict[tuple[int, int], int] = {}
        problem = ("ok", "")
        for tid, seen in by_tid.items():
            for _, obs in seen:
                for key, prev, value in obs.installs:
                    values[(key, tid)] = value
                    other = nxt.setdefault((key, prev), tid)
                    if other != tid and problem[0] == "ok":
                        problem = ("violation", f"lost update: {tid_str(other)} and {tid_str(tid)} "
                                                f"both replaced version {tid_str(prev)} of key {key}")
        return nxt, values, problem

    def _edges(self, by_tid: dict, nxt: dict) -> Iterable[tuple[int, int, str]]:
        committed = by_tid
        for tid, seen in by_tid.items():
            for _, obs in seen:
                for key, prev, _ in obs.installs:
                    if prev:
                        yield prev, tid, f"ww(k={key})"
                for key, version in obs.reads:
                    if version and version != tid:
                        if version in committed:
                            yield version, tid, f"wr(k={key})"
                    later = nxt.get((key, version))
                    if later is not None and later != tid:
                        yield tid, later, f"rw(k={key})"

    def _serializable(self, by_tid: dict, nxt: dict) -> tuple[str, str]:
        for tid, seen in by_tid.items():  # reads or overwrites of versions nobody committed
            for node, obs in seen:
                for key, version in obs.reads:
                    if version and version not in by_tid:
                        return "violation", (f"{tid_str(tid)} read key {key} at version "
                                             f"{tid_str(version)}, which never committed "
                                             f"(partition {node})")
                for key, version, _ in obs.installs:
                    if version and version not in by_tid:
                        return "violation", (f"{tid_str(tid)} replaced version {tid_str(version)} "
                                             f"of key {key}, which never committed (partition {node})")
        first = self.first
        backward = False
        for src, dst, _ in self._edges(by_tid, nxt):
            if first[src] > first[dst]:
                backward = True
                break
        self.write_skew = 0
        if not backward:
            return "ok", ""
        adjacency: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for src, dst, label in self._edges(by_tid, nxt):
            adjacency[src].append((dst, label))
        self.write_skew = len(strong_components(adjacency))
        if self.isolation == SNAPSHOT_ISOLATION:
            walk = walk_without_rw_pair(adjacency)
            if walk is None:
                return "ok", ""
            return "violation", (f"not snapshot isolation: cycle without two consecutive "
                                 f"anti-dependencies {describe_cycle(walk)}")
        cycle = find_cycle(adjacency)
        if cycle is None:
            return "ok", ""
        return "violation", f"not serializable: cycle {describe_cycle(cycle)}"

    def _durability(self, committed: Any, nxt: dict, values: dict, stores: list[Any] | None
                    ) -> tuple[str, str]:
        for tid in self.acked_tids:
            if tid not in committed:
                return "violation", (f"durability: {tid_str(tid)} was acknowledged as committed "
                                     "but is not committed at any partition after recovery")
        if stores is None:
            return "ok", ""
        P = len(stores)
        keys = {key for key, _ in values}
        for p, store in enumerate(stores):  # every key any store holds, not only those written
            for key in store.data:
                if key % P != p:
                    return "violation", (f"durability: partition {p} holds key {key}, which "
                                         f"lives on partition {key % P}")
                keys.add(key)
        for key in sorted(keys):
            value, version = stores[key % P].get(key)
            later = nxt.get((key, version))
            if later is not None:
                return "violation", (f"durability: key {key} ends at version {tid_str(version)}, "
                                     f"but {tid_str(later)} committed a later one (lost in a crash?)")
            if version and (key, version) not in values:
                return "violation", (f"durability: key {key} holds version {tid_str(version)}, "
                                     "which no partition reported committing")
            if version and values[(key, version)] != value:
                return "violation", (f"durability: key {key} holds {value} at version "
                                     f"{tid_str(version)}, which wrote {values[(key, version)]}")
            if not version and value != self.initial:
                return "violation", (f"durability: key {key} holds {value} at the initial "
                                     f"version, which is {self.initial}")
        return "ok", ""

    def _bank(self, by_tid: dict, values: dict, stores: list[Any] | None) -> tuple[str, str]:
        initial, accounts = self.initial, self.bank
        total = initial * accounts
        for tid, seen in by_tid.items():
            delta = 0
            for _, obs in seen:
                for key, prev, value in obs.installs:
                    delta += value - (values.get((key, prev), initial) if prev else initial)
            if delta:
                return "violation", (f"bank invariant: {tid_str(tid)} changed the total balance "
                                     f"by {delta:+d}")
        for t, seen_total in self.quiescent:
            if seen_total != total:
                return "violation", (f"bank invariant: total balance {seen_total} at the quiescent "
                                     f"point t={t:.3f}s, expected {total}")
        if stores is not None:
            P = len(stores)
            final = sum(stores[k % P].get(k)[0] for k in range(accounts))
            if final != total:
                return "violation", f"bank invariant: total balance {final} at the end, expected {total}"
        return "ok", ""
