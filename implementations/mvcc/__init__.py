"""Multi-version concurrency control with snapshot isolation (``mvcc-si``): snapshot reads at the
attempt's timestamp, first-committer-wins (:mod:`.snapshot`); with ``serializable: true``,
Serializable SI (:mod:`.ssi`)."""

from __future__ import annotations

from harness.protocol import ProtocolSpec
from implementations.mvcc.node import MVCC
from implementations.mvcc.options import MVCCOptions

__all__ = ["SPEC"]

SPEC = ProtocolSpec("mvcc-si", "transactions", MVCC, MVCCOptions,
                    "multi-version snapshot isolation (first committer wins); serializable: SSI")
