"""Built-in protocol implementations. Importing this package registers them all."""

from implementations import raft, multipaxos  # noqa: F401
from implementations import twopc, twopl, occ  # noqa: F401  (transactions)
