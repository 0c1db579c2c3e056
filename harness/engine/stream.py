"""The stream transport (``network.transport: stream``): each directed link is a TCP-like
connection, as the links of deployed Raft (etcd, LogCabin), ZooKeeper and most databases are.

Per connection the sender numbers its messages and the receiver hands them over in that order,
holding any that arrive early (jitter no longer reorders: it delays). A lost message is not
gone: the sender re-sends it after the retransmission timeout, doubling it for every loss of
the copy too (RFC 6298 §5.5), and the messages behind it wait (head-of-line blocking). The
timeout is ``network.rto``, by default Linux's floor ``TCP_RTO_MIN`` = 200 ms
(include/net/tcp.h), which is what a datacenter round trip of a millisecond always gets. A
loss followed by ``DUPTHRESH`` more messages on the link is repaired sooner, by a fast
retransmit (RFC 5681 §3.2): the receiver's duplicate acknowledgements reach the sender one
reverse latency after the third of them arrives, and the copy takes one more forward latency.
A connection broken by a partition, a crash or a restart of either end (:meth:`Stream.reset`)
loses what was in flight on it, as a reset connection does; the next message opens a new one.
"""

from __future__ import annotations

from typing import Any

DUPTHRESH = 3           # duplicate acknowledgements that trigger a fast retransmit (RFC 5681)
RTO_MAX = 120.0         # Linux's TCP_RTO_MAX: the backed-off timeout stops doubling here
RETRIES = 15            # Linux's tcp_retries2: after this many lost copies the connection breaks


class Stream:
    """One directed link's connection: the sender's next sequence number, the receiver's next
    expected one and the messages it holds beyond it, and the messages lost on their first try
    (``seq -> (delivery item, when the timeout re-sends it)``) that a fast retransmit may repair.
    ``epoch`` numbers the connection: a message of an older one is dropped on arrival. On a link
    that loses nothing order needs no numbers: a message arrives no earlier than the one before
    it (``last``, the arrival time of the latest)."""

    __slots__ = ("epoch", "sent", "expected", "held", "lost", "last")

    def __init__(self) -> None:
        self.epoch = 0
        self.last = 0.0
        self.sent = 0
        self.expected = 0
        self.held: dict[int, Any] = {}
        self.lost: dict[int, tuple[tuple, float]] = {}

    def reset(self) -> None:
        """The connection breaks: everything in flight or held is lost; a new one starts."""
        self.epoch += 1
        self.sent = self.expected = 0
        self.last = 0.0
        self.held.clear()
        self.lost.clear()

    def repairable(self) -> bool:
        """The message the receiver waits for was lost and enough later ones arrived behind it
        for the sender to see duplicate acknowledgements."""
        return self.expected in self.lost and len(self.held) >= DUPTHRESH


def backoff(rto: float, loss: float, draw: Any) -> tuple[float, int]:
    """(time from the first send until the copy that gets through is sent, copies re-sent) for a
    message lost on its first try: each timeout doubles (up to ``RTO_MAX``) while copies are lost
    too. ``tries`` > ``RETRIES`` means the connection timed out (the message never arrives)."""
    wait, tries = rto, 1
    while draw() < loss and tries <= RETRIES:
        rto = min(rto * 2.0, RTO_MAX)
        wait += rto
        tries += 1
    return wait, tries
