"""Comparisons: statistics over seeds, the regression gate between two results directories, and
its outputs (Markdown, JSON, JUnit XML) and history.

    from harness.compare import gate
    result = gate(Path("baseline"), Path("results/quickstart/new"))
    result.exit_code, result.verdict      # 0 / 1 / 3, "all runs identical" / "regression" / ...

:func:`gate` raises :class:`CompareError` (one line naming the directory and the problem) for
input it cannot compare.

The package loads only the policy eagerly: suite validation (``harness.suite``) needs it, and
loading a suite should not pay for SciPy and pandas, which only comparing and summaries need.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from harness.compare.policy import DEFAULT_POLICY, Policy, Threshold, parse_threshold

if TYPE_CHECKING:
    from harness.compare.judge import Comparison

__all__ = ["CompareError", "Comparison", "gate", "suite_policy", "write_outputs"]

_LAZY = {"Comparison": "harness.compare.judge", "CompareError": "harness.compare.sides"}


def __getattr__(name: str) -> Any:
    """``Comparison`` and ``CompareError``, loaded on first use (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def suite_policy(manifest: Mapping[str, Any]) -> Policy:
    """The default policy, with the ``gate`` section of a suite's manifest applied (thresholds,
    ignore, alpha, require_identical, decide), as validated when the suite was loaded."""
    section = (manifest.get("suite_config") or {}).get("gate") or {}
    thresholds: dict[str, Threshold] = dict(DEFAULT_POLICY.thresholds)
    for metric, value in (section.get("thresholds") or {}).items():
        if value is None:
            thresholds.pop(metric, None)
        else:
            thresholds[metric] = parse_threshold(value)
    decide = section.get("decide")
    return Policy(thresholds, float(section.get("alpha", DEFAULT_POLICY.alpha)),
                  tuple(section.get("ignore") or ()), bool(section.get("require_identical", False)),
                  decide=DEFAULT_POLICY.decide if decide is None else tuple(decide))


def gate(base_dir: Path, new_dir: Path, thresholds: Mapping[str, Threshold | None] | None = None,
         ignore: tuple[str, ...] = (), alpha: float | None = None,
         require_identical: bool | None = None, allow_same_code: bool = False,
         allow_dirty: bool = False, two_versions: bool = False, verified: bool = False,
         look_alpha: float | None = None) -> Comparison:
    """Compare NEW against BASE with NEW's suite gate settings and these overrides (a threshold
    of None stops judging that metric), and check what code each side ran
    (:func:`harness.compare.provenance.check`, which says what the next four mean).
    ``look_alpha`` is the share of the error rate this look spends when seeds are added until the
    comparison decides (:mod:`harness.compare.sequential`); by default all of it."""
    from harness.compare import provenance
    from harness.compare.judge import compare, load_pair
    from harness.compare.sides import check_ignore, run_configs

    base, new = load_pair(Path(base_dir), Path(new_dir))
    check_ignore(ignore, (r.get("config") or {} for side in (base, new) for r in run_configs(side).values()))
    policy = suite_policy(new.manifest).with_overrides(thresholds, ignore, alpha, require_identical)
    result = compare(base, new, policy, look_alpha)
    result.provenance = provenance.check(base.manifest, new.manifest, allow_same_code=allow_same_code,
                                         allow_dirty=allow_dirty, require_identical=policy.require_identical,
                                         two_versions=two_versions, verified=verified)
    return result


def write_outputs(result: Comparison, md: Path | None = None, json_path: Path | None = None,
                  junit: Path | None = None, md_limit: int | None = None,
                  md_pointer: str | None = None, comment: Path | None = None) -> dict[str, Any]:
    """Write the requested files, and append the Markdown to ``$GITHUB_STEP_SUMMARY`` when set.
    ``md`` and the step summary always get the full Markdown, so that a cut text can point to
    them. ``comment`` gets it cut to ``md_limit`` characters (by default
    :data:`~harness.compare.cut.COMMENT_LIMIT`, to fit a pull-request comment) with
    ``md_pointer`` at the end (see :mod:`harness.compare.cut`); the returned text, which the CLI
    prints, is cut only with ``md_limit``. Returns ``{"md_text": text, ...paths written}``."""
    from harness.compare.cut import COMMENT_LIMIT, cut_markdown, default_pointer
    from harness.compare.outputs import to_junit, to_markdown, write_json

    full = to_markdown(result)
    pointer = md_pointer or default_pointer(md)
    text = full if md_limit is None else cut_markdown(full, md_limit, pointer)
    written: dict[str, Any] = {"md_text": text}
    cut = cut_markdown(full, md_limit or COMMENT_LIMIT, pointer) if comment is not None else ""
    for path, content, key in ((md, full, "md"), (comment, cut, "comment"),
                               (json_path, write_json(result), "json"), (junit, to_junit(result), "junit")):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(content, encoding="utf-8")
            written[key] = Path(path)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(full + "\n")
    return written
