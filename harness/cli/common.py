"""What every command shares: the one-line refusal (exit 2), the build check, loading a suite
and the cost guard, and the limits written ``auto`` or ``off``."""

from __future__ import annotations

import sys
from typing import Any, Callable, NoReturn

import click

from harness import build
from harness.suite.errors import ConfigError
from harness.suite.loading import load_suite


def fail(message: str) -> NoReturn:
    """End with ``distbench: error: <message>`` on stderr and exit status 2."""
    click.echo(f"distbench: error: {message}", err=True)
    sys.exit(2)


def build_kind() -> str:
    """``pure`` or ``compiled``; a mixed install is refused, never run silently."""
    try:
        return build.kind()
    except build.MixedBuild as exc:
        fail(f"mixed build: {exc}")


def load(config: str | None, overrides: tuple[str, ...], seeds: int | None, jobs: int = 1,
         force: bool = True) -> Any:
    """The suite; unless ``force``, one of more than MAX_RUNS runs is refused before its matrix
    is expanded, with its cost estimated from a sample of its points."""
    from harness.suite.loading import TooManyRuns
    from harness.execution import estimate

    try:
        return load_suite(config, overrides, seeds, max_runs=None if force else estimate.MAX_RUNS)
    except TooManyRuns as exc:
        fail(f"{exc}: {estimate.too_many(exc.sample, exc.runs, jobs)}; use fewer seeds or matrix values, "
             "or pass --force to expand it anyway")
    except ConfigError as exc:
        fail(str(exc))


def guard(suite: Any, force: bool) -> list[tuple[list, Any]]:
    """Each matrix point's runs and estimate; unless ``force``, a suite with a run that plainly
    cannot fit this machine is refused (one line, naming the key)."""
    from harness.execution.estimate import by_point, physical_memory, suite_refusal

    estimates = by_point(suite)
    why = None if force else suite_refusal(suite, estimates, physical_memory())
    if why:
        fail(f"{suite.source}: {why}; pass --force to run it anyway")
    return estimates


def parse_limit(text: str, option: str, parse: Callable[[str], float], auto: float | None) -> float | None:
    """A limit given as a value, ``auto`` (then ``auto``) or ``off``/``none``/``0`` (None)."""
    if text == "auto":
        return auto
    if text in ("off", "none", "0"):
        return None
    try:
        value = float(parse(text))
    except ValueError as exc:
        fail(f"{option}: {exc}; or 'auto' or 'off'")
    if value <= 0:
        fail(f"{option}: expected a positive value, 'auto' or 'off', got {text!r}")
    return value
