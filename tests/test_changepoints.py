"""E-divisive means: finds a step, stays quiet on noise, and is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from harness.compare.changepoints import ALPHA, change_points


def _noise(seed: int, n: int, mean: float, sd: float = 1.0) -> list[float]:
    return list(mean + np.random.default_rng(seed).normal(0.0, sd, n))


@pytest.mark.parametrize("seed", range(5))
def test_a_step_is_found_where_it_is(seed):
    values = _noise(seed, 10, 100.0) + _noise(seed + 100, 10, 90.0)
    assert change_points(values) == [10]
    assert change_points(values) == change_points(values)   # seeded shuffles: the same answer


def test_a_change_that_is_undone_is_found_and_segments_keep_min_size():
    values = _noise(1, 8, 100.0) + _noise(2, 8, 80.0) + _noise(3, 8, 100.0)
    assert change_points(values) == [8, 16]
    assert change_points(values[:11]) == [8]
    for min_size in (4, 5, 7):   # the three low values are no segment of four
        bounds = [0, *change_points(values[:11], min_size=min_size), 11]
        assert min(b - a for a, b in zip(bounds, bounds[1:])) >= min_size


def test_stationary_noise_rarely_splits_at_the_stated_level():
    found = [seed for seed in range(60) if change_points(_noise(seed, 20, 100.0))]
    assert len(found) <= 2 * ALPHA * 60   # about ALPHA of the series, never a habit
    assert change_points([5.0] * 12) == []   # a flat series never splits, whatever the shuffles


@pytest.mark.parametrize("bad", [dict(alpha=0.0), dict(min_size=1), dict(exponent=2.0)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        change_points([1.0, 2.0, 3.0, 4.0], **bad)
    with pytest.raises(ValueError):
        change_points([1.0, float("nan"), 3.0, 4.0])
