"""Streaming safety checkers for replication protocols, fed by the runtime during a run.

* :class:`ElectionSafety` -- at most one leader per term (Raft) / ballot (Multi-Paxos), and only
  a node that reported leading a term sends the messages only its leader sends.
* :class:`LogAgreement` -- State Machine Safety: no two nodes apply different commands at the
  same log index, and no node skips an index.
* :class:`Durability` -- every acknowledged write is in the agreed applied sequence at the end.

Each has ``verdict() -> (status, detail)`` with status ``"ok"`` or ``"violation"`` (the first
violation seen, with times and nodes). :func:`combine` folds verdicts of any checkers
(including a :class:`~harness.checkers.linearizability.LinearizabilityResult`) into one string.

Memory is per log index, in :mod:`array` columns (about 20 bytes per index), and ``applied`` --
called once per command per replica -- does a handful of list/array operations.
"""

from __future__ import annotations

from array import array
from typing import Any

__all__ = ["ElectionSafety", "LogAgreement", "Durability", "ReplicaObserver", "combine"]

_UNSET = -(1 << 63)  # an index nobody has been seen applying (only after a snapshot restart)


def _uid_str(uid: int) -> str:
    if uid == -1:
        return "no-op"
    if uid >= 0:
        return f"uid {uid} (client {uid >> 32} seq {uid & 0xFFFFFFFF})"
    return f"uid {uid}"


class ElectionSafety:
    """Violation if two different nodes lead the same term (or ballot)."""

    __slots__ = ("_leaders", "_violation")

    def __init__(self) -> None:
        self._leaders: dict[int, tuple[int, float]] = {}  # term -> (node, first seen t)
        self._violation = ""

    def observe(self, term: int, node: int, t: float) -> None:
        """``node`` became (or acts as) leader of ``term`` at time ``t``."""
        seen = self._leaders.get(term)
        if seen is None:
            self._leaders[term] = (node, t)
        elif seen[0] != node and not self._violation:
            self._violation = (f"two leaders in term {term}: node {seen[0]} (t={seen[1]:.6f}s) "
                               f"and node {node} (t={t:.6f}s)")

    def claimed(self, term: int, node: int, what: str, t: float) -> None:
        """``node`` sent ``what``, a message only the leader of ``term`` sends, at time ``t``:
        a violation unless it reported leading ``term`` (deleting a protocol's ``became_leader``
        call must not switch this check off)."""
        seen = self._leaders.get(term)
        if (seen is None or seen[0] != node) and not self._violation:
            self._violation = (f"node {node} acted as leader of term {term} (sent {what} at "
                               f"t={t:.6f}s) but never reported leading it")

    @property
    def terms(self) -> int:
        return len(self._leaders)

    def verdict(self) -> tuple[str, str]:
        if self._violation:
            return "violation", self._violation
        return "ok", f"{len(self._leaders)} terms, one leader each"


class LogAgreement:
    """Violation if two nodes apply different commands at the same index, or a node skips one.

    ``applied(node, index, uid, t)``: ``node`` applied the command ``uid`` (-1 for a no-op) at
    log ``index`` (1-based) at time ``t``. Per node, ``index`` must be at most its previous
    applied index + 1 (a node re-applies from 1 after :meth:`restarted`; re-applying an index is
    accepted and compared like any other application).
    """

    __slots__ = ("_uids", "_nodes", "_times", "_last", "_violation")

    def __init__(self) -> None:
        self._uids = array("q")   # uid agreed at index i+1 (first application seen)
        self._nodes = array("i")  # node that applied it first
        self._times = array("d")  # when
        self._last: list[int] = []  # per node: last applied index
        self._violation = ""

    def applied(self, node: int, index: int, uid: int, t: float) -> None:
        last = self._last
        try:
            prev = last[node]
        except IndexError:
            last.extend([0] * (node + 1 - len(last)))
            prev = 0
        if index == prev + 1:
            last[node] = index
        elif index > prev or index < 1:
            self._bad_index(node, index, prev, t)
            return
        uids = self._uids
        n = len(uids)
        if index > n:
            if index == n + 1:
                uids.append(uid)
                self._nodes.append(node)
                self._times.append(t)
                return
            self._pad(index)
            agreed = _UNSET
        else:
            agreed = uids[index - 1]
        if agreed != uid:
            self._differs(node, index, uid, t, agreed)

    def applied_run(self, node: int, first: int, uids: list[int], t: float) -> None:
        """``applied`` for ``uids`` at indices ``first, first + 1, ...``, with two fast paths: a
        run all of whose indices are agreed is checked as one slice comparison, and a run that
        starts just past them (this node applies them first) extends them at once."""
        last = self._last
        known = self._uids
        start = first - 1
        if 0 <= start and node < len(last) and start <= last[node]:
            n = len(known)
            end = start + len(uids)
            if end <= n:  # on every replica but the first to apply these indices
                if known[start:end] == array("q", uids):
                    if end > last[node]:
                        last[node] = end
                    return
            elif start == n:  # the first replica to apply them
                known.extend(uids)
                self._nodes.extend([node] * (end - n))
                self._times.extend([t] * (end - n))
                if end > last[node]:  # (a node restored from a snapshot may be further on)
                    last[node] = end
                return
        for i, uid in enumerate(uids, first):  # anything else: one index at a time
            self.applied(node, i, uid, t)

    def _bad_index(self, node: int, index: int, prev: int, t: float) -> None:
        if not self._violation:
            self._violation = (f"node {node} applied index {index} at t={t:.6f}s right after "
                               f"index {prev} (skipped {prev + 1})" if index > 0 else
                               f"node {node} applied invalid index {index} at t={t:.6f}s")

    def _differs(self, node: int, index: int, uid: int, t: float, agreed: int) -> None:
        i = index - 1
        if agreed == _UNSET:  # first application seen of an index below a snapshot
            self._uids[i] = uid
            self._nodes[i] = node
            self._times[i] = t
        elif not self._violation:
            self._violation = (
                f"index {index}: node {self._nodes[i]} applied {_uid_str(agreed)} "
                f"(t={self._times[i]:.6f}s) but node {node} applied {_uid_str(uid)} "
                f"(t={t:.6f}s)")

    def restarted(self, node: int, index: int = 0) -> None:
        """``node`` restarted: it re-applies from ``index + 1`` (0 = from the start of the log;
        the index of the snapshot it restored, if any)."""
        last = self._last
        if node >= len(last):
            last.extend([0] * (node + 1 - len(last)))
        last[node] = index

    def _pad(self, index: int) -> None:
        n = index - len(self._uids)
        self._uids.extend(array("q", [_UNSET]) * n)
        self._nodes.extend(array("i", [-1]) * n)
        self._times.extend(array("d", [0.0]) * n)

    def __len__(self) -> int:
        """Length of the agreed applied sequence (highest index any node applied)."""
        return len(self._uids)

    @property
    def uids(self) -> array:
        """The agreed applied sequence (uid at index i+1; -1 no-op; -2**63 never seen)."""
        return self._uids

    def verdict(self) -> tuple[str, str]:
        if self._violation:
            return "violation", self._violation
        return "ok", f"{len(self._uids)} indices agreed"


class Durability:
    """Every acknowledged write (a put, a cas that swapped) must be in the agreed applied
    sequence at the end of the run."""

    __slots__ = ("_acked",)

    def __init__(self) -> None:
        self._acked = array("q")

    def acked_write(self, uid: int) -> None:
        self._acked.append(uid)

    def __len__(self) -> int:
        return len(self._acked)

    def verdict(self, log: LogAgreement) -> tuple[str, str]:
        import numpy as np

        acked = np.frombuffer(self._acked, dtype=np.int64) if len(self._acked) else \
            np.zeros(0, dtype=np.int64)
        if len(acked) == 0:
            return "ok", "no acknowledged writes"
        applied = np.frombuffer(log.uids, dtype=np.int64) if len(log.uids) else \
            np.zeros(0, dtype=np.int64)
        missing = np.flatnonzero(~np.isin(acked, applied))
        if len(missing):
            first = int(acked[missing[0]])
            return "violation", (f"acknowledged write {_uid_str(first)} (ack #{int(missing[0])}) "
                                 f"is not in the applied log ({len(missing)} of {len(acked)} "
                                 f"acknowledged writes missing, log length {len(applied)})")
        return "ok", f"{len(acked)} acknowledged writes all applied"


class ReplicaObserver:
    """Routes a consensus run's replica observations (``NodeHost``'s observer) to the checkers
    here and to the metrics; it lives here, not in the runner, so that the compiled build
    compiles it (one call per applied run of commands on every replica)."""

    __slots__ = ("election", "log", "metrics")

    def __init__(self, election: ElectionSafety, log: LogAgreement, metrics: Any):
        self.election = election
        self.log = log
        self.metrics = metrics

    def leader(self, node: int, term: int, t: float) -> None:
        self.election.observe(term, node, t)
        self.metrics.leader(node, term, t)

    def claimed(self, node: int, term: int, what: str, t: float) -> None:
        self.election.claimed(term, node, what, t)

    def applied(self, node: int, index: int, command: Any, t: float) -> None:
        self.log.applied(node, index, -1 if command is None else command.uid, t)

    def applied_many(self, node: int, first: int, commands: Any, t: float) -> None:
        if len(commands) == 1:  # the most common run, checked faster on its own
            c = commands[0]
            self.log.applied(node, first, -1 if c is None else c.uid, t)
        else:
            self.log.applied_run(node, first, [-1 if c is None else c.uid for c in commands], t)

    def restarted(self, node: int) -> None:
        self.log.restarted(node)

    def observe(self, node: int, event: str, value: Any, t: float) -> None:
        self.metrics.observe(node, event, value, t)


def combine(*verdicts) -> str:
    """Fold verdicts into ``"ok"``, ``"violation: <first violation's detail>"`` or
    ``"unknown: <why>"``. Each verdict is a ``(status, detail)`` pair or an object with
    ``status`` and ``detail`` (e.g. a ``LinearizabilityResult``); ``None`` counts as unknown
    (a checker that could not run)."""
    unknown = None
    for v in verdicts:
        if v is None:
            status, detail = "unknown", "a checker did not run"
        elif isinstance(v, tuple):
            status, detail = v
        else:
            status, detail = v.status, v.detail
        if status == "violation":
            return f"violation: {detail}"
        if status != "ok" and unknown is None:
            unknown = detail or status
    if unknown is not None:
        return f"unknown: {unknown}"
    return "ok"
