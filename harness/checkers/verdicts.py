"""Which check a run's ``safety`` verdict failed: its class, such as ``linearizability`` or
``bank invariant``, or ``exception KeyError`` for a run that raised.

A run's ``safety`` column carries the first violation's text (see
:func:`harness.checkers.consensus.combine`); two runs fail "the same check" when their texts
name the same class, whatever the keys, times and transactions in them. ``distbench shrink``
keeps a smaller run only when it fails the same check as the run it shrinks. A violation whose
text no pattern here knows is of class ``violation``.
"""

from __future__ import annotations

import re

# (class, pattern of the detail) in the order they are tried; each pattern matches the texts
# one check of harness/checkers writes.
CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("election safety", r"^two leaders in term "),
    ("log agreement", r"^(index \d+: node \d+ applied|node \d+ applied (invalid )?index )"),
    ("durability", r"^(acknowledged write .* is not in the applied log|durability: )"),
    ("linearizability", r"but no linearization allows it"),
    ("sequential consistency", r"^sequential: "),
    ("regular register", r"^regular: "),
    ("eventual consistency", r"^eventual: "),
    ("atomicity", r"^atomicity: "),
    ("exactly-once", r"^(exactly-once: |\S+ applied twice at partition )"),
    ("bank invariant", r"^bank invariant: "),
    ("serializability", r"^(not serializable: |lost update: |\S+ (read key|replaced version) .*which never committed)"),
))
VIOLATION, ERROR = "violation", "error"


def failed(safety: str) -> bool:
    """Whether a ``safety`` cell says the run failed: a violation, or an exception it raised."""
    return safety.startswith((VIOLATION, ERROR))


def verdict_class(safety: str) -> str | None:
    """The class of a failing ``safety`` cell, None for one that did not fail (``ok``,
    ``unknown``)."""
    if safety.startswith(f"{ERROR}: "):
        return f"exception {safety.removeprefix(f'{ERROR}: ').split(':', 1)[0].strip()}"
    if not safety.startswith(VIOLATION):
        return None
    detail = safety.removeprefix(VIOLATION).removeprefix(":").strip()
    return next((name for name, pattern in CLASSES if pattern.search(detail)), VIOLATION)
