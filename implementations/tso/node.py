"""The timestamp-ordering partition node: the shared partition node over basic T/O."""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from implementations.tso.ordering import TimestampOrderingCC
from implementations.txn.node import PartitionNode

__all__ = ["TSO"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class TSO(PartitionNode):
    """Basic timestamp ordering; multi-partition transactions commit with 2PC (default
    settings)."""

    def make_cc(self, options: Any) -> TimestampOrderingCC:
        return TimestampOrderingCC(self.participant)
