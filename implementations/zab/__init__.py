"""ZAB, ZooKeeper's atomic broadcast: Fast Leader Election, discovery, synchronisation (DIFF,
TRUNC, SNAP) and broadcast, with clients served by any server.

``node`` (the server: its roles, the follower's side, applying), ``election`` (Fast Leader
Election), ``leader`` (discovery, synchronisation, broadcast, sync), ``sessions`` (the clients of
one server: forwarded writes, local and sync reads), ``messages``, ``records`` and ``options``.
The mechanisms it shares with Raft and Multi-Paxos are in ``implementations.replication``.
"""

from harness.protocol import ProtocolSpec
from implementations.zab.node import ZabNode
from implementations.zab.options import ZabOptions

# A constant rather than the decorator: the compiled build compiles a decorated class as a slower
# non-native class (docs/performance.md). The package metadata names it (pyproject.toml).
SPEC = ProtocolSpec("zab", "consensus", ZabNode, ZabOptions,
                    "ZAB (ZooKeeper): fast leader election, discovery, sync, broadcast; reads "
                    "at any server")
