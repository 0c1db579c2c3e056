"""The stream transport (``network.transport: stream``): each directed link is a TCP-like
connection, as the links of deployed Raft (etcd, LogCabin), ZooKeeper and most databases are.

Per connection the sender numbers its messages and the receiver hands them over in that order,
holding any that arrive early (jitter no longer reorders: it delays). A lost message is not
gone, and the messages behind it wait (head-of-line blocking) until a copy arrives. Its copy is
sent by whichever of Linux's three loss recoveries comes first (RFC 8985, RACK-TLP, Linux's
default since 4.18, and RFC 6298):

* **RACK**: a message sent after the lost one arrives; its selective acknowledgement reaches the
  sender one reverse latency later, which re-sends the lost one after a reordering window of a
  quarter of the round trip (``tcp_rack_reo_wnd``), or at once when ``DUPTHRESH`` later
  messages have arrived (the duplicate-acknowledgement threshold, RFC 5681).
* **Tail-loss probe**: when nothing later arrives to reveal the loss, the sender probes a probe
  timeout (PTO) after its latest send: 2 x SRTT plus 2 ms (``TCP_TIMEOUT_MIN``), or plus the
  200 ms RTO floor when only one message is in flight, capped by the retransmission timeout
  (``tcp_schedule_loss_probe`` in net/ipv4/tcp_output.c). The probe re-sends the latest message:
  if that is the lost one it is the repair; otherwise its acknowledgement shows the hole, and
  the lost message follows one round trip later.
* **Retransmission timeout**: ``network.rto``, by default Linux's floor ``TCP_RTO_MIN`` = 200 ms
  (include/net/tcp.h), which a datacenter round trip of a millisecond always gets, doubled for
  every lost copy (RFC 6298 §5.5) up to ``RTO_MAX``.

A copy sent by RACK or a probe may be lost too; RACK then re-sends it again once a message sent
after that copy arrives, and the timeout's copy remains the backstop. SRTT is the
link's round trip at its mean latencies (the mean forward plus the mean reverse one-way
latency), the value the smoothed estimate settles on. A connection broken by a partition, a
crash or a restart of either end (:meth:`Stream.reset`) loses what was in flight on it, as a
reset connection does; the next message opens a new one.
"""

from __future__ import annotations

from typing import Any

DUPTHRESH = 3           # later messages acknowledged that mark a loss at once (RFC 5681, RACK)
TIMEOUT_MIN = 0.002     # Linux's TCP_TIMEOUT_MIN: added to 2 x SRTT in the probe timeout
UNSENT = float("inf")   # a lost message whose repair is not planned yet
RTO_MAX = 120.0         # Linux's TCP_RTO_MAX: the backed-off timeout stops doubling here
RETRIES = 15            # Linux's tcp_retries2: after this many lost copies the connection breaks


class Stream:
    """One directed link's connection: the sender's next sequence number and the times of its
    two latest sends, the receiver's next expected one and the messages it holds beyond it, and
    the messages lost on their first try (``seq -> [delivery item, when the timeout re-sends it,
    when a repair re-sends it, the first sequence number sent after its latest copy]``; the
    repair time is ``UNSENT`` until one is planned and -1 once sent).
    ``epoch`` numbers the connection: a message of an older one is dropped on arrival. On a link
    that loses nothing order needs no numbers: a message arrives no earlier than the one before
    it (``last``, the arrival time of the latest). ``srtt`` is the link's round trip."""

    __slots__ = ("epoch", "sent", "expected", "held", "lost", "last", "sent_at", "prev_sent_at",
                 "srtt")

    def __init__(self) -> None:
        self.epoch = 0
        self.last = 0.0
        self.sent = 0
        self.sent_at = self.prev_sent_at = -UNSENT  # (no send yet)
        self.expected = 0
        self.held: dict[int, Any] = {}
        self.lost: dict[int, list] = {}
        self.srtt = 0.0

    def reset(self) -> None:
        """The connection breaks: everything in flight or held is lost; a new one starts."""
        self.epoch += 1
        self.sent = self.expected = 0
        self.last = 0.0
        self.sent_at = self.prev_sent_at = -UNSENT
        self.held.clear()
        self.lost.clear()

    def probe_due(self, rto: float) -> float:
        """When the tail-loss probe fires: a probe timeout after the latest send (the timer is
        re-armed by every send), with one message in flight if the latest one is the only loss
        and the one before it was acknowledged (sent more than a round trip earlier)."""
        lost = self.lost
        single = (len(lost) == 1 and self.sent - 1 in lost
                  and self.prev_sent_at <= self.sent_at - self.srtt)
        return self.sent_at + 2.0 * self.srtt + (rto if single else TIMEOUT_MIN)


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
