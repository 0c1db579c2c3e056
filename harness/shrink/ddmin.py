"""Zeller's delta debugging (ddmin): the smallest subset of a failing set of changes that still
fails, removing every one it can (1-minimal: no single element of the result can be dropped).

A. Zeller and R. Hildebrandt, "Simplifying and Isolating Failure-Inducing Input", IEEE TSE 28(2),
2002, Figure 5: split the set into ``n`` chunks; keep a chunk that fails alone, else a
complement (the set less one chunk) that fails; else split finer, until the chunks are single
elements. The empty set is tried first, so a failure that needs none of them says so. Each
subset is tested once (the answers are remembered). Written here rather than taken from a
package: the one maintained implementation (picire) no longer imports on current Python tools.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def ddmin(items: Sequence[T], fails: Callable[[list[T]], bool]) -> list[T]:
    """A 1-minimal sublist of ``items`` (which must fail) for which ``fails`` is true, the order
    of ``items`` kept. ``fails`` may raise to stop the search; the caller then keeps the
    smallest failing subset it saw."""
    seen: dict[tuple[int, ...], bool] = {}

    def test(chosen: list[int]) -> bool:
        key = tuple(chosen)
        if key not in seen:
            seen[key] = fails([items[i] for i in chosen])
        return seen[key]

    current = list(range(len(items)))
    if current and test([]):
        return []
    n = 2
    while len(current) >= 2:
        size = len(current)
        chunks = [current[size * k // n: size * (k + 1) // n] for k in range(n)]
        reduced = next((chunk for chunk in chunks if test(chunk)), None)
        if reduced is not None:
            current, n = reduced, 2
            continue
        if n > 2:  # with two chunks each complement is the other chunk, tested just now
            complement = next((rest for k in range(n)
                               if test(rest := [i for j, chunk in enumerate(chunks) if j != k for i in chunk])),
                              None)
            if complement is not None:
                current, n = complement, max(n - 1, 2)
                continue
        if n >= size:
            break
        n = min(2 * n, size)
    return [items[i] for i in current]
