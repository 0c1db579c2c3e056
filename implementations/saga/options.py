"""``protocols.saga:``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from implementations.txn.options import SettlingOptions

__all__ = ["SagaOptions"]


class SagaOptions(SettlingOptions):
    """The ``protocols.saga:`` section: how it recovers, and how its parts are settled."""

    recovery: Literal["backward", "forward"] = Field(
        "backward", description="A step that times out: 'backward' compensates the steps taken "
                                "and retries the transaction; 'forward' re-sends the step and "
                                "carries on (compensation only when the home gives up).")
