"""Key distributions (YCSB vocabulary): uniform, zipfian(theta), hotspot, latest.

Zipfian sampling inverts an exact cumulative table with a binary search, which is correct for
every theta (YCSB's closed-form generator needs theta < 1) and costs one bisect per draw.
Key ``0`` is the most popular; partitioned stores spread keys by ``key % partitions``.
"""

from __future__ import annotations

import bisect
import random
from itertools import accumulate
from typing import Any


def below(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)``, the same draw (CPython's ``_randbelow``: ``n.bit_length()`` random
    bits until they fall below ``n``) without ``randrange``'s interpreted argument handling,
    which costs more than the draw once this module is compiled."""
    if n <= 0:
        raise ValueError(f"empty range for below({n})")
    k = n.bit_length()
    r = rng.getrandbits(k)
    while r >= n:
        r = rng.getrandbits(k)
    return r


def zipf_cdf(n: int, theta: float) -> list[float]:
    weights = [1.0 / (rank ** theta) for rank in range(1, n + 1)]
    total = sum(weights)
    cdf = [w / total for w in accumulate(weights)]
    cdf[-1] = 1.0
    return cdf


class KeyChooser:
    """Draws keys in ``[0, keys)``. One instance may be shared by several clients (``latest``
    follows the most recent write of any client), each client passing its own random stream."""

    def __init__(self, spec: Any, keys: int):
        self.kind = spec.type
        self.keys = keys
        self.latest = 0
        self.cdf: list[float] = []
        if self.kind in ("zipfian", "latest"):
            self.cdf = zipf_cdf(keys, spec.theta)
        self.hot = max(1, int(round(keys * spec.hot_fraction)))
        self.hot_probability = spec.hot_probability

    def next(self, rng: random.Random) -> int:
        kind = self.kind
        if kind == "uniform":
            return below(rng, self.keys)
        if kind == "zipfian":
            return bisect.bisect_left(self.cdf, rng.random())
        if kind == "hotspot":
            if rng.random() < self.hot_probability or self.hot >= self.keys:
                return below(rng, self.hot)
            return self.hot + below(rng, self.keys - self.hot)
        # latest: zipfian over recency, counted back from the most recently written key
        return (self.latest - bisect.bisect_left(self.cdf, rng.random())) % self.keys

    def wrote(self, key: int) -> None:
        self.latest = key
