"""The roles a Multi-Paxos replica takes as proposer (it is acceptor and learner in all of them):
FOLLOWER; CANDIDATE, running phase 1 for its ballot; LEADER, running phase 2."""

FOLLOWER, CANDIDATE, LEADER = 0, 1, 2
