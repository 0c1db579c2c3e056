"""Multi-Paxos with a stable leader, batching, pipelining, catch-up and no-op hole filling."""

from harness.protocol import ProtocolSpec
from implementations.multipaxos.messages import Accept, Heartbeat, LeaseHeartbeat
from implementations.multipaxos.node import MultiPaxosNode
from implementations.multipaxos.options import MultiPaxosOptions

# A constant rather than the decorator, as for Raft (see there); the description is given because
# a compiled class has no docstring.
SPEC = ProtocolSpec("multipaxos", "consensus", MultiPaxosNode, MultiPaxosOptions,
                    "Multi-Paxos with a stable leader, batching, pipelining, catch-up and no-op "
                    "hole filling.", aliases=("paxos",),
                    leader_only={Accept: "ballot", Heartbeat: "ballot", LeaseHeartbeat: "ballot"})
