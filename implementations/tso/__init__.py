"""Basic timestamp ordering (``tso``): every attempt ordered by its timestamp, too-late reads and
writes abort (:mod:`.ordering`)."""

from __future__ import annotations

from harness.protocol import Options, ProtocolSpec
from implementations.tso.node import TSO

__all__ = ["SPEC"]

SPEC = ProtocolSpec("tso", "transactions", TSO, Options,
                    "basic timestamp ordering (too-late reads and writes abort)")
