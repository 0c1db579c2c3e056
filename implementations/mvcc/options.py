"""``protocols.mvcc-si:``."""

from __future__ import annotations

from pydantic import Field

from harness.protocol import Options
from harness.units import PositiveDuration

__all__ = ["MVCCOptions"]


class MVCCOptions(Options):
    """The ``protocols.mvcc-si:`` section."""

    serializable: bool = Field(
        False, description="Serializable snapshot isolation (Cahill et al. 2008): also track "
                           "rw-antidependencies and abort the pivot of two consecutive ones. "
                           "The run is then judged serializable, not snapshot isolation.")
    retention: PositiveDuration = Field(
        1.0, description="How long superseded versions are kept; an attempt whose snapshot is "
                         "older is aborted (reason timeout: snapshot too old).")
