"""The MVCC partition node: the shared partition node over multi-version snapshot isolation."""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.kinds.transactions.contract import SERIALIZABLE, SNAPSHOT_ISOLATION
from implementations.mvcc.snapshot import SnapshotCC
from implementations.txn.node import PartitionNode

__all__ = ["MVCC"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class MVCC(PartitionNode):
    """MVCC with snapshot isolation (or Serializable SI); multi-partition transactions commit
    with 2PC (default settings)."""

    def make_cc(self, options: Any) -> SnapshotCC:
        return SnapshotCC(self.participant, options.retention, options.serializable)

    def isolation(self) -> str:
        return SERIALIZABLE if self.options.serializable else SNAPSHOT_ISOLATION
