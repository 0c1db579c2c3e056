"""``protocols.saga:``."""

from __future__ import annotations

from implementations.txn.options import SettlingOptions

__all__ = ["SagaOptions"]


class SagaOptions(SettlingOptions):
    """The ``protocols.saga:`` section: how its parts are settled."""
