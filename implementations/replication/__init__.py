"""The mechanisms the consensus protocols share, as types, so that a comparison of Raft and
Multi-Paxos differs only in the algorithm: the election timer, quorum check and retransmission
interval (``liveness``), the batching window (``batching``), the leader's view of each follower
(``progress``) and the options they all read (``options``)."""
