"""What every suite section shares: the base model (unknown keys are errors, values immutable)
and the field types several sections use (counts, node selectors). It imports only the
units, so that the fault kinds (:mod:`harness.faults`) can build their sections on it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from harness.units import show


def selector(*words: str) -> BeforeValidator:
    """Nodes named by one of ``words``, by an id or by a list of distinct ids (-> a tuple)."""
    expected = "expected " + ", ".join(repr(w) for w in words) + ", a node id or a list of node ids"

    def validate(value: Any) -> Any:
        if isinstance(value, str) and value in words:
            return value
        ids = [value] if isinstance(value, int) else value
        if (isinstance(ids, (list, tuple)) and ids and len(set(ids)) == len(ids)
                and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids)):
            return tuple(ids)
        raise ValueError(f"{expected}, got {show(value)}")

    return BeforeValidator(validate)


PosInt = Annotated[int, Strict(), Field(ge=1)]
NonNegInt = Annotated[int, Strict(), Field(ge=0)]
NodeSelector = Annotated[Literal["*"] | tuple[int, ...], selector("*")]


class Section(BaseModel):
    """A suite section: unknown keys are errors, values are immutable, and defaults go through the
    same validators as input (so they are written with units, like a suite)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              validate_default=True)
