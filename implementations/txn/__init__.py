"""What the transaction protocols (``2pl``, ``occ``, ``2pc``) share: the partition node
(:mod:`.node`) with its participant and coordinator roles, the commit protocol's messages and log
records, the transaction records, locks, the concurrency-control interface each protocol
implements, and the shared options. What clients send and the world asks is the transactions
kind's (:mod:`harness.kinds.transactions`)."""
