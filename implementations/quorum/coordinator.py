"""What a coordinator keeps while a client's request is in flight (Cassandra's
``AbstractWriteResponseHandler`` and ``ReadCallback``; Dynamo, section 4.5): the replicas asked,
the answers counted against the consistency level, and for a read the repair it waits on.

The coordinator's timestamp, taken from its own clock, decides between versions (last write
wins, ties broken by the coordinator's id), so a coordinator whose clock is behind writes
versions that lose to older ones."""

from __future__ import annotations

from workloads.kv import Request

from implementations.quorum.records import Stored

__all__ = ["PendingWrite", "PendingRead", "newer"]


def newer(ts: float, origin: int, than_ts: float, than_origin: int) -> bool:
    """Does stamp (ts, origin) win over (than_ts, than_origin)? Last write wins; the larger
    coordinator id breaks a tie."""
    return ts > than_ts or (ts == than_ts and origin > than_origin)


class PendingWrite:
    """A write waiting for ``needed`` acknowledgements from ``targets`` (the N replicas, and
    under a sloppy quorum the fallbacks that stand in for the silent ones)."""

    __slots__ = ("request", "version", "targets", "acked", "needed", "since", "escalated", "done")

    def __init__(self, request: Request, version: Stored, targets: list[int], needed: int,
                 since: float):
        self.request = request
        self.version = version
        self.targets = targets
        self.acked: list[int] = []
        self.needed = needed
        self.since = since
        self.escalated = False  # replica_timeout passed: fallbacks asked, hints recorded
        self.done = False  # the client was answered

    def missing(self) -> list[int]:
        """The replicas (of the first N targets) that have not acknowledged."""
        return [node for node in self.targets if node not in self.acked]


class PendingRead:
    """A read waiting for ``needed`` answers, then (blocking read repair) for the stale
    answerers to acknowledge the newest version."""

    __slots__ = ("request", "asked", "answers", "needed", "since", "escalated", "best",
                 "repairing", "done")

    def __init__(self, request: Request, asked: list[int], needed: int, since: float):
        self.request = request
        self.asked = asked
        self.answers: dict[int, Stored] = {}
        self.needed = needed
        self.since = since
        self.escalated = False
        self.best: Stored | None = None  # the newest answer, once ``needed`` came
        self.repairing: list[int] = []  # stale answerers whose repair is not yet acknowledged
        self.done = False
