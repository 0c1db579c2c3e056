"""``protocols.occ:``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.protocol import Options

__all__ = ["OCCOptions"]


class OCCOptions(Options):
    """The ``protocols.occ:`` section."""

    validation: Literal["backward", "silo"] = Field(
        "backward", description="backward: Kung-Robinson serial validation against the write sets "
                                "of transactions committed since this one started; silo: lock the "
                                "write set, then check the read set's versions.")
