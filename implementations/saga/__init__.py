"""Saga (``saga``): each partition applies its part of a transaction at once; a transaction that
does not commit is undone by compensations, in reverse order (:mod:`.node`)."""

from __future__ import annotations

from harness.protocol import ProtocolSpec
from implementations.saga.node import Saga
from implementations.saga.options import SagaOptions

__all__ = ["SPEC"]

SPEC = ProtocolSpec("saga", "transactions", Saga, SagaOptions,
                    "saga: steps applied at once, compensated in reverse order on abort; atomic "
                    "in the end, no isolation", workloads=("bank",))
