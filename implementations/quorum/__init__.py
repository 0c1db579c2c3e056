"""A leaderless quorum store in the manner of Dynamo (DeCandia et al., SOSP 2007) and Cassandra:
each key on N nodes of a token ring, any node coordinates, tunable read and write consistency
levels, last write wins by the coordinator's clock, read repair, and optionally hinted handoff
and sloppy quorums.

``ring`` (consistent hashing), ``coordinator`` (what a request in flight waits on), ``node``
(the replica and the coordinator), ``messages``, ``records`` (stable records) and ``options``.
"""

from harness.protocol import ProtocolSpec
from implementations.quorum.node import QuorumNode
from implementations.quorum.options import QuorumOptions

# A constant rather than the decorator: the compiled build compiles a decorated class as a slower
# non-native class (docs/performance.md). The package metadata names it (pyproject.toml).
SPEC = ProtocolSpec("quorum", "consensus", QuorumNode, QuorumOptions,
                    "Leaderless quorum store (Dynamo, Cassandra): tunable R and W, last write "
                    "wins, read repair, optional hinted handoff and sloppy quorum",
                    leaderless=True)
