"""``protocols.tcc:``: the three guards, each a switch, and how parts are settled."""

from __future__ import annotations

from pydantic import Field

from implementations.txn.options import SettlingOptions

__all__ = ["TCCOptions"]


class TCCOptions(SettlingOptions):
    """The ``protocols.tcc:`` section."""

    idempotent: bool = Field(
        True, description="Confirm and cancel take effect once per transaction and partition (a "
                          "fence); off, a duplicated confirm or cancel applies again.")
    empty_rollback: bool = Field(
        True, description="A cancel that finds no try here records the fence anyway; off, it "
                          "leaves no trace, so a try arriving after it is not recognised.")
    anti_suspension: bool = Field(
        True, description="A try of a transaction already confirmed or cancelled here is refused; "
                          "off, it freezes its amount and nobody settles it again.")
