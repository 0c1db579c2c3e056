"""The TCC partition node. *Try* freezes the amount a step takes from an account (the balance
stays, the available amount -- balance minus frozen -- drops) and earmarks an amount it adds;
*confirm* applies the step to the balance and releases what it froze; *cancel* releases it.
Reads see the confirmed balances only: no transaction ever reads a value that is later undone,
but a transfer confirmed at one partition and not yet at the other shows a wrong total."""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from harness.contract import Context
from harness.kinds.transactions.contract import Store
from implementations.txn.stepwise import Step, StepwiseNode

__all__ = ["TCC"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class TCC(StepwiseNode):
    """Try-Confirm-Cancel with its three guards switchable."""

    def __init__(self, node_id: int, nodes: tuple[int, ...], replication: Any, options: Any,
                 store: Store | None = None):
        super().__init__(node_id, nodes, replication, options, store)
        self.idempotent = options.idempotent
        self.empty_rollback = options.empty_rollback
        self.anti_suspension = options.anti_suspension
        self.frozen: dict[int, int] = {}  # key -> amount frozen by tries not yet settled

    def available(self, key: int) -> int:
        return self.store.get(key)[0] - self.frozen.get(key, 0)

    def _freeze(self, key: int, amount: int) -> None:
        left = self.frozen.get(key, 0) + amount
        if left:
            self.frozen[key] = left
        else:
            self.frozen.pop(key, None)

    def take(self, ctx: Context | None, tid: int, step: Step) -> None:
        if step.delta < 0:
            self._freeze(step.key, -step.delta)

    def confirm(self, ctx: Context | None, tid: int, step: Step) -> None:
        self.move(ctx, tid, step.key, step.delta)
        if step.delta < 0:
            self._freeze(step.key, step.delta)

    def undo(self, ctx: Context | None, tid: int, step: Step) -> None:
        if step.delta < 0:
            self._freeze(step.key, step.delta)

    def held(self) -> list[str]:
        expected: dict[int, int] = {}
        for part in self.parts.values():
            for s in part.steps:
                if s.delta < 0:
                    expected[s.key] = expected.get(s.key, 0) - s.delta
        return [f"key {key}: {amount - expected.get(key, 0)} frozen by no unsettled try"
                for key, amount in sorted(self.frozen.items()) if amount != expected.get(key, 0)]
