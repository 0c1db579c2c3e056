"""The 2PL partition node: the shared partition node over a lock table."""

from __future__ import annotations

from typing import Any, ClassVar

from mypy_extensions import mypyc_attr

from implementations.twopl.locking import LockingCC
from implementations.txn.node import PartitionNode

__all__ = ["TwoPL"]


@mypyc_attr(allow_interpreted_subclasses=True)  # the fixed-policy variants, and tests, subclass it
class TwoPL(PartitionNode):
    """Strict 2PL; multi-partition transactions commit with 2PC (default settings)."""

    policy: ClassVar[str] = ""  # a fixed-policy variant's (see the package), else the options'

    def make_cc(self, options: Any) -> LockingCC:
        return LockingCC(self.participant, self.policy or options.deadlock, options)
