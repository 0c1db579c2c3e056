"""Raft: leader election, log replication, ReadIndex reads and optional pre-vote.

``node`` (the replica: the term rules, the follower's side, elections, applying), ``leader``
(what a leader keeps for one term and its side of replication), ``reads`` (ReadIndex),
``messages``, ``records`` (stable records) and ``options``. The mechanisms it shares with
Multi-Paxos are in ``implementations.replication``.
"""

from harness.protocol import ProtocolSpec
from implementations.raft.messages import AppendEntries
from implementations.raft.node import RaftNode
from implementations.raft.options import RaftOptions

# A constant rather than the decorator: the compiled build compiles a decorated class as a slower
# non-native class (docs/performance.md). The package metadata names it (pyproject.toml).
SPEC = ProtocolSpec("raft", "consensus", RaftNode, RaftOptions,
                    "Raft: leader election, log replication, ReadIndex reads, optional pre-vote",
                    leader_only={AppendEntries: "term"})
