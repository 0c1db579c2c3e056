"""Change points in a series of numbers: E-divisive means (Matteson & James 2014), the method
MongoDB's and Apache Otava's performance tools use on their benchmark histories (Daly et al.,
"Creating a Virtuous Cycle in Performance Testing at MongoDB", ICPE 2021).

Written here rather than taken from a library: MongoDB's ``signal-processing-algorithms`` ships
only as a source package with a C extension and pins Python < 3.12, NumPy < 2 and gevent;
``apache-otava`` pins NumPy 2.2 and SciPy 1.16 exactly and brings BigQuery, Postgres and Slack
clients. The method itself is a few lines of NumPy.

The method: for a segment ``Z`` and a split ``τ`` into ``X = Z[:τ]`` and ``Y = Z[τ:]`` (sizes
``m`` and ``k``), the energy statistic

    Q̂(τ) = m·k/(m+k) · ( 2/(m·k) Σ|x−y|^e − C(m,2)⁻¹ Σ_{i<j}|xᵢ−xⱼ|^e − C(k,2)⁻¹ Σ_{i<j}|yᵢ−yⱼ|^e )

is large when the two sides differ in distribution (with ``e = 1`` chiefly in mean). As in the
paper, ``Y`` may end before the segment does (``Y = Z[τ:κ]``, Q̂ maximised over κ too), so a
change that is undone later (a regression, then its fix) is found as readily as one at the end.
Recursive bisection: among the current segments, the split with the largest Q̂ is a candidate; it is
accepted when a permutation test says it is significant (the observations are shuffled within
each segment, the largest Q̂ over all segments is recomputed; p = (1 + #shuffles at least as
large) / (1 + shuffles)) at level ``alpha``, and the search goes on in the new segments; the first
candidate that is not significant ends it. Every segment holds at least ``min_size`` values. The
shuffles come from a generator seeded with ``seed``: the same series gives the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Each accepted change point is significant at ALPHA. At 0.01 a shuffle test cannot resolve a short
# newest segment (ten values, five after a step, reach p = 2/252 ≈ 0.008 at best); 0.05 finds a
# step three entries after it, and the practical threshold, not this level, keeps noise from failing.
ALPHA = 0.05
MIN_SIZE = 3          # fewest values in a segment: one noisy entry never makes a change point
PERMUTATIONS = 199    # shuffles per test: p-values resolve to 1/200
_BATCH_CELLS = 2_000_000  # distance-matrix cells computed at once (memory bound)


def _best_split(z: np.ndarray, min_size: int, exponent: float) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``z`` (shape (R, L)): the split τ with the largest Q̂ over every end κ of
    the right-hand side, and that Q̂ (-inf where the row is too short to split)."""
    rows, length = z.shape
    if length < 2 * min_size:
        return np.zeros(rows, dtype=int), np.full(rows, -np.inf)
    d = np.abs(z[:, :, None] - z[:, None, :]) ** exponent
    p = np.zeros((rows, length + 1, length + 1))
    p[:, 1:, 1:] = d.cumsum(axis=1).cumsum(axis=2)    # p[:, a, b] = sum of d[:, :a, :b]
    tau = np.arange(min_size, length - min_size + 1)[:, None]
    kappa = np.arange(2 * min_size, length + 1)[None, :]
    corner = p[:, tau, tau]                            # pairs both before τ, each twice
    between = p[:, tau, kappa] - corner                # x before τ, y in [τ, κ)
    right = (p[:, kappa, kappa] - 2 * p[:, tau, kappa] + corner) / 2
    m, k = tau.astype(float), np.maximum(kappa - tau, 2).astype(float)
    energy = 2 * between / (m * k) - corner / (m * (m - 1)) - right / (k * (k - 1) / 2)
    q = np.where(kappa - tau >= min_size, m * k / (m + k) * energy, -np.inf).reshape(rows, -1)
    best = q.argmax(axis=1)
    return tau[best // kappa.shape[1], 0], q[np.arange(rows), best]


def _strongest(z: np.ndarray, bounds: list[int], min_size: int, exponent: float) -> tuple[int, np.ndarray]:
    """The largest Q̂ over the segments ``bounds`` cut ``z`` (rows: series) into, and where
    (an index into the series) for the first row."""
    best_q = np.full(z.shape[0], -np.inf)
    where = -1
    for start, end in zip(bounds, bounds[1:]):
        tau, q = _best_split(z[:, start:end], min_size, exponent)
        if q[0] > best_q[0]:
            where = start + int(tau[0])
        best_q = np.maximum(best_q, q)
    return where, best_q


def change_points(values: Sequence[float], alpha: float = ALPHA, min_size: int = MIN_SIZE,
                  permutations: int = PERMUTATIONS, seed: int = 0, exponent: float = 1.0) -> list[int]:
    """Indices where a new segment of ``values`` begins, ascending: E-divisive means (see the
    module's docstring), each change point significant at ``alpha`` (default 0.05) by a test of
    ``permutations`` seeded shuffles (199), every segment at least ``min_size`` values long (3).
    ``values`` must be finite; ``exponent`` is in (0, 2)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if min_size < 2:
        raise ValueError(f"min_size must be at least 2, got {min_size!r}")
    if not 0 < exponent < 2:
        raise ValueError(f"exponent must be in (0, 2), got {exponent!r}")
    z = np.asarray(values, dtype=float)
    if z.ndim != 1 or not np.isfinite(z).all():
        raise ValueError("values must be a flat sequence of finite numbers")
    rng = np.random.default_rng(seed)
    bounds = [0, len(z)]
    batch = max(1, _BATCH_CELLS // max(1, len(z) ** 2))
    while True:
        where, observed = _strongest(z[None, :], bounds, min_size, exponent)
        if where < 0:
            return bounds[1:-1]
        # Shuffle within each segment; ties count against the candidate (a flat series never splits).
        tolerance = 1e-9 * max(1.0, abs(float(observed[0])))
        at_least = 0
        for done in range(0, permutations, batch):
            count = min(batch, permutations - done)
            shuffled = np.tile(z, (count, 1))
            for start, end in zip(bounds, bounds[1:]):
                shuffled[:, start:end] = rng.permuted(shuffled[:, start:end], axis=1)
            _, q = _strongest(shuffled, bounds, min_size, exponent)
            at_least += int((q >= observed[0] - tolerance).sum())
        if (1 + at_least) / (1 + permutations) > alpha:
            return bounds[1:-1]
        bounds = sorted([*bounds, where])
