"""The OCC partition node: the shared partition node over optimistic validation."""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from implementations.occ.validation import OptimisticCC
from implementations.txn.node import PartitionNode

__all__ = ["OCC"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class OCC(PartitionNode):
    """OCC; multi-partition transactions commit with 2PC (default settings)."""

    def make_cc(self, options: Any) -> OptimisticCC:
        return OptimisticCC(self.participant, options.validation)
