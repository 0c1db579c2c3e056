"""Adding seeds until a comparison decides, with its error rate still controlled across the looks.

A comparison that is inconclusive is run again with more seeds on both sides (the run cache and
the runs already on disk make the seeds already run free). Looking again and again at growing
data and stopping at the first decision would multiply the chances of a false verdict, so each
look spends a share of the error rate: an alpha-spending rule (Lan & DeMets 1983) with the linear
spending function alpha * n / MAX, where n is the number of seeds at the look and MAX the most
that may be run. The looks are fixed in advance (the suite's seeds, then doubling, then MAX), so
the shares add up to at most alpha whatever happens at each look, and by the union bound the
chance of any false *worse* (or any false *equivalent*) over all the looks stays at most alpha.
The union bound ignores how strongly successive looks agree, so the rule is conservative (a few
more seeds than an exact group-sequential boundary would ask); in exchange it needs no
assumption about the metrics' distribution across looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from harness.compare.judge import Comparison
from harness.compare.provenance import blocking


def looks(first: int, most: int) -> list[int]:
    """The seed counts at which to look: ``first``, doubling, and ``most`` last."""
    if first < 1 or most < first:
        raise ValueError(f"expected 1 <= first seeds ({first}) <= most seeds ({most})")
    out = [first]
    while out[-1] < most:
        out.append(min(most, out[-1] * 2))
    return out


def spending(alpha: float, counts: list[int]) -> list[float]:
    """The error rate each look may spend: alpha * (n_k - n_(k-1)) / n_last (linear spending)."""
    most, spent, prev = counts[-1], [], 0
    for n in counts:
        spent.append(alpha * (n - prev) / most)
        prev = n
    return spent


@dataclass
class Look:
    seeds: int
    alpha: float
    verdict: str
    exit_code: int


def decide(compare_at: Callable[[int, float], Comparison], first: int, most: int,
           alpha: float) -> tuple[Comparison, list[Look]]:
    """Compare at ``first`` seeds and, while the result is inconclusive for want of evidence,
    at more (``compare_at(seeds, alpha_for_this_look)`` runs or loads both sides with that many
    seeds and compares them). Stops at the first decision, at ``most`` seeds, or when what keeps
    it from passing is something more seeds cannot fix (runs not comparable, sides that did not
    run the code they claim). With ``most == first`` it is one look spending all of alpha. When
    seeds were added, the result's notes list the looks."""
    counts = looks(first, most)
    history: list[Look] = []
    result: Comparison | None = None
    for seeds, share in zip(counts, spending(alpha, counts)):
        result = compare_at(seeds, share)
        history.append(Look(seeds, share, result.verdict, result.exit_code))
        if not result.undecided or result.regressions or result.new_failures or not result.matched \
                or result.incomparable or blocking(result.provenance):
            break
    assert result is not None
    if len(history) > 1:
        result.notes.append("seeds added until decided: " + "; ".join(
            f"{k.seeds} seeds (α {k.alpha:.3g}): {k.verdict}" for k in history))
    return result, history
