"""Fault kinds as units: one module per kind (:mod:`.kind` says what each declares), the
nemesis that dispatches over them (:mod:`.nemesis`), and what the rest of distbench reads
from their declarations.

Adding a kind is one module and its line in :data:`KINDS`.
"""

from __future__ import annotations

from harness.faults.clock import Clock
from harness.faults.crash import Crash
from harness.faults.delay import Delay
from harness.faults.kind import Action, Kind, Style
from harness.faults.partition import Partition
from harness.faults.pause import Pause
from harness.faults.slow import Slow

# Every fault kind, in the order their rates start in a run (and so draw from the run's
# ``faults`` random stream: a kind added at the end leaves existing suites' runs unchanged).
KINDS: tuple[type[Kind], ...] = (Crash, Partition, Slow, Pause, Clock, Delay)

ACTIONS: tuple[str, ...] = tuple(action for kind in KINDS for action in kind.actions)
ACTION: dict[str, Action] = {action: spec for kind in KINDS for action, spec in kind.actions.items()}
STEP: dict[str, tuple] = {key: field for kind in KINDS for key, field in kind.step.items()}
CAUSES: dict[str, str] = {event: cause for kind in KINDS for event, cause in kind.events.items()}
STYLES: dict[str, Style] = {event: style for kind in KINDS for event, style in kind.styles.items()}
