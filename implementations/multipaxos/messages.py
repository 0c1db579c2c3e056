"""Multi-Paxos's messages. Sizes: ``Message.HEADER`` + 8 bytes per integer field + the carried
requests' sizes. The class names appear in results (``messages_per_op_by_type``)."""

from __future__ import annotations

from harness.message import Message
from workloads.kv import Request

__all__ = ["INT", "batch_bytes", "Prepare", "Promise", "Nack", "Accept", "Accepted", "Heartbeat",
           "HeartbeatAck", "LeaseHeartbeat", "LeaseHeartbeatAck", "CatchupReq", "Catchup"]

INT = 8  # bytes per integer field on the wire and on disk
HDR = Message.HEADER


def batch_bytes(value: tuple[Request, ...] | None) -> int:
    """Bytes of a slot's value: the sum of its requests' sizes (0 for a no-op)."""
    if value is None:
        return 0
    size = 0
    for r in value:
        size += r.size
    return size


# -- messages ----------------------------------------------------------------------------------
class Prepare(Message):
    """Phase 1a: ``ballot`` for every slot from ``start`` on."""

    __slots__ = ("ballot", "start")

    def __init__(self, ballot: int, start: int):
        self.ballot = ballot
        self.start = start
        self.size = HDR + 2 * INT


class Promise(Message):
    """Phase 1b: ``chosen`` are the values of slots ``start, start+1, ...`` known chosen;
    ``accepted`` holds the acceptor's ``AcceptRecord`` of each other slot it accepted (one with
    the ballot ``CHOSEN`` for a slot it knows chosen above a gap)."""

    __slots__ = ("ballot", "start", "chosen", "accepted")

    def __init__(self, ballot: int, start: int, chosen: tuple, accepted: tuple):
        self.ballot = ballot
        self.start = start
        self.chosen = chosen
        self.accepted = accepted
        size = HDR + 3 * INT + INT * len(chosen) + 3 * INT * len(accepted)
        for v in chosen:
            size += batch_bytes(v)
        for a in accepted:
            size += a.vbytes
        self.size = size


class Nack(Message):
    """A rejected prepare/accept/heartbeat: the acceptor has promised ``ballot``."""

    __slots__ = ("ballot",)

    def __init__(self, ballot: int):
        self.ballot = ballot
        self.size = HDR + INT


class Accept(Message):
    """Phase 2a for one slot, with the leader's commit index (all slots below it are chosen)."""

    __slots__ = ("ballot", "slot", "value", "commit", "vbytes")

    def __init__(self, ballot: int, slot: int, value: tuple | None, commit: int, vbytes: int):
        self.ballot = ballot
        self.slot = slot
        self.value = value
        self.commit = commit
        self.vbytes = vbytes
        self.size = HDR + 3 * INT + vbytes


class Accepted(Message):
    """The answer to the accept of ``slot``; the acceptor also holds every slot below ``upto``
    (from its commit index on), which answers accepts whose own answer was lost."""

    __slots__ = ("ballot", "slot", "upto")

    def __init__(self, ballot: int, slot: int, upto: int):
        self.ballot = ballot
        self.slot = slot
        self.upto = upto
        self.size = HDR + 3 * INT


class Heartbeat(Message):
    __slots__ = ("ballot", "commit")

    def __init__(self, ballot: int, commit: int):
        self.ballot = ballot
        self.commit = commit
        self.size = HDR + 2 * INT


class HeartbeatAck(Message):
    """The answer to a heartbeat: the acceptor holds every slot below ``upto`` (from the commit
    index on), so it answers each accept among them -- as a Raft follower's reply to a heartbeat
    carries its match index."""

    __slots__ = ("ballot", "upto")

    def __init__(self, ballot: int, upto: int):
        self.ballot = ballot
        self.upto = upto
        self.size = HDR + 2 * INT


class LeaseHeartbeat(Heartbeat):
    """A heartbeat of a leader with a lease (``read: lease``): it starts lease round ``rid``."""

    __slots__ = ("rid",)

    def __init__(self, ballot: int, commit: int, rid: int):
        super().__init__(ballot, commit)
        self.rid = rid
        self.size = HDR + 3 * INT


class LeaseHeartbeatAck(HeartbeatAck):
    """The answer to a :class:`LeaseHeartbeat`, echoing its round."""

    __slots__ = ("rid",)

    def __init__(self, ballot: int, upto: int, rid: int):
        super().__init__(ballot, upto)
        self.rid = rid
        self.size = HDR + 3 * INT


class CatchupReq(Message):
    """A lagging replica asks for the chosen values of slots ``start .. end - 1`` (``end`` None:
    as many as the sender has)."""

    __slots__ = ("start", "end")

    def __init__(self, start: int, end: int | None = None):
        self.start = start
        self.end = end
        self.size = HDR + 2 * INT


class Catchup(Message):
    """Chosen ``values`` of slots ``start, start+1, ...``; the sender's ``commit`` and, if it
    leads, its ``ballot`` (else -1)."""

    __slots__ = ("ballot", "start", "values", "commit")

    def __init__(self, ballot: int, start: int, values: tuple, commit: int):
        self.ballot = ballot
        self.start = start
        self.values = values
        self.commit = commit
        size = HDR + 3 * INT + INT * len(values)
        for v in values:
            size += batch_bytes(v)
        self.size = size
