"""The 2PC partition node: the shared partition node, its participants running 2PL or OCC."""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from implementations.occ.validation import OptimisticCC
from implementations.twopl.locking import LockingCC
from implementations.txn.concurrency import ConcurrencyControl
from implementations.txn.node import PartitionNode

__all__ = ["TwoPC"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class TwoPC(PartitionNode):
    """Two-phase commit across partitions; participants run 2PL (default) or OCC."""

    def make_cc(self, options: Any) -> ConcurrencyControl:
        if options.participants == "occ":
            return OptimisticCC(self.participant, options.validation)
        return LockingCC(self.participant, options.deadlock, options)
