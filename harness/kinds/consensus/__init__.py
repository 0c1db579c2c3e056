"""The consensus kind (``kind: consensus``): replicas of one protocol keep a replicated key-value
store (:mod:`workloads.kv`) for KV clients; ``world`` assembles a run, ``metrics`` measures it.

What a consensus node reports, through the :class:`~harness.contract.Context` methods every
runtime implements (the kind relies on these; the rest are optional):

Required
    ``reply(request, Reply(...))`` -- answers a client: ``OK`` with the result once the command
    is committed (or the read is linearizable), or ``REDIRECT`` with a hint of who may serve it
    (``None``: unknown; the client then tries the next node).
    ``applied(index, command)`` / ``applied_many(first, commands)`` -- every command (``None``
    for a no-op) a replica applies, at its 1-based log index, the same on every replica. Log
    agreement judges them (no two replicas apply different commands at an index, none skips
    one), and durability (every acknowledged write is in the applied sequence at the end).

Optional
    ``became_leader(term)`` -- this node leads ``term`` (a term, a ballot) and can serve. It feeds
    the election-safety check (at most one leader per term), the leadership metrics (leader
    changes, failover times, leader CPU, the leader lane of the time series) and the
    ``leader``/``follower`` fault targets. A protocol that never calls it is leaderless and says
    so (``ProtocolSpec(..., leaderless=True)``, or ``register(..., leaderless=True)``): its
    leadership columns are NaN, its leader lane empty, and a fault aimed at the ``leader`` finds
    none. (Undeclared, it reads as a protocol that never elected a leader.)
    ``observe(event, value)`` with these events (any other is ignored):
    ``heard_leader`` (term) -- a replica accepted a first message from that term's leader: the
    "majority heard" failover time; ``stepped_down`` (term) -- the leader stopped leading: the
    leaderless stretches; ``retransmit``, ``repair`` (messages sent) and ``loss_blocked``
    (seconds) -- the cost of replication under loss (``retransmissions_per_op``,
    ``repairs_per_op``, ``loss_blocked_share``).
"""
