"""The concurrency-control strategy of a partition, and what it may ask of the partition.

A partition's participant role (:class:`~implementations.txn.participant.Participant`) runs its
transactions' operations and commits through one :class:`ConcurrencyControl` (2PL's lock table,
OCC's validation) and never looks inside it. The strategy, in turn, uses a small public part of
the participant -- ``transactions()``, ``is_active(t)``, ``abort_active(t, reason)``,
``lock_granted(t)``, ``store`` and ``ctx`` (to ``charge`` for a deadlock search, or read the
time) -- and nothing else.

Timestamps (MVCC, timestamp ordering)
    A strategy that orders by timestamp gives a transaction its ``snapshot`` in :meth:`begin`
    (when the first operation carries none), answers reads from its versions (:meth:`read`),
    proposes commit timestamps for the coordinator (:meth:`commit_timestamp`, sent in
    ``Prepare``) and rebuilds its versions from the log at a restart (:meth:`restored`,
    :meth:`started`). The others keep the defaults, which do nothing.

Why the strategy calls back rather than returning what to do: its effects must happen where they
arise. Aborting a wounded or deadlocked transaction releases its locks, which grants queued
requests whose operations run (and are answered) at once, and a deadlock search goes on from the
state that left; deferring those calls to the participant would reorder the node's outputs.
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from harness.kinds.transactions.contract import Store
from implementations.txn.records import ParticipantTxn

__all__ = ["GRANTED", "WAIT", "ConcurrencyControl"]

GRANTED, WAIT = 0, -1
"""Results of :meth:`ConcurrencyControl.access` besides an abort reason (> 0)."""


@mypyc_attr(allow_interpreted_subclasses=True)  # strategies of your own, and tests, subclass it
class ConcurrencyControl:
    """What a partition's participant asks of its concurrency control, for each transaction
    ``t`` that runs there."""

    def begin(self, t: ParticipantTxn) -> None:
        """``t`` ran its first operation here."""

    def read(self, t: ParticipantTxn, key: int, store: Store) -> tuple[int, int]:
        """The (value, version) of ``key`` that ``t`` sees: by default the latest committed."""
        return store.get(key)

    def commit_timestamp(self, now: float) -> int:
        """As coordinator of a two-phase commit: the commit timestamp to propose (0: none)."""
        return 0

    def restored(self, tid: int, writes: list[tuple[int, int]], ts: int) -> None:
        """At a restart, replaying the log: ``tid`` committed ``writes`` at timestamp ``ts``
        (called before they are installed in the store)."""

    def started(self, now: float) -> None:
        """The partition (re)started at ``now``, its log replayed: whatever was kept only in
        memory is gone."""

    def access(self, t: ParticipantTxn, kind: int, key: int, now: float) -> int:
        """May ``t`` run an operation of ``kind`` on ``key`` now? ``GRANTED``, ``WAIT`` (queued:
        the participant's ``lock_granted(t)`` follows) or an abort reason."""
        raise NotImplementedError

    def validate(self, t: ParticipantTxn) -> int:
        """At commit or prepare: 0 (``t`` may commit, and is protected until its decision) or an
        abort reason."""
        raise NotImplementedError

    def commit(self, t: ParticipantTxn) -> None:
        """``t`` committed here (its writes are installed): release what it holds."""
        raise NotImplementedError

    def abort(self, t: ParticipantTxn) -> None:
        """``t`` aborted here: release what it holds and anything it waits for."""
        raise NotImplementedError

    def recover(self, t: ParticipantTxn) -> None:
        """``t`` was found prepared in the log at a restart: protect it again until its decision."""
        raise NotImplementedError

    def tick(self, now: float) -> None:
        """The partition's housekeeping tick."""
