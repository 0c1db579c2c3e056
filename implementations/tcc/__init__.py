"""Try-Confirm-Cancel (``tcc``): try reserves (the bank: freezes the amount a step takes away),
confirm applies, cancel releases; the three guards against duplicated, early and late messages
are switches (:mod:`.options`)."""

from __future__ import annotations

from harness.protocol import ProtocolSpec
from implementations.tcc.node import TCC
from implementations.tcc.options import TCCOptions

__all__ = ["SPEC"]

SPEC = ProtocolSpec("tcc", "transactions", TCC, TCCOptions,
                    "try-confirm-cancel: try freezes, confirm applies, cancel releases; atomic in "
                    "the end, no isolation", workloads=("bank",))
