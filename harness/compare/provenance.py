"""Did the two sides of a comparison run the code they claim? Checked from the manifests'
provenance (:mod:`harness.execution.provenance`): commit, dirty flag, code digest.

A comparison measures a change only if the two sides ran different code from known commits.
Findings, each either a note or blocking (exit 3 unless allowed):

* **Same code** -- both sides record the same code digest (the digest is the truth: it is
  computed from the sources that ran). Blocking when the sides were plainly meant to be two
  versions: they record different commits (a change that touches no simulating source, such as a
  docs-only pull request, or a side labelled with the other's commit), or a side was started in a
  distbench checkout whose code is not what ran (the base checked out, the head's ``distbench`` on
  PATH). Allowed by ``--allow-same-code``; different commits are also allowed by
  ``--require-identical`` (the same code is the surest way to change nothing). Both sides at the
  same commit with the same code is a rerun or a comparison of settings: a note -- unless the caller
  meant two versions (``distbench gate`` against the working tree's own commit). When the caller
  checked out and ran each commit itself (``distbench gate``), different commits with the same
  code are a change that touches no simulating source: a note.
* **Modified sources** -- a side ran from a work tree whose simulating sources differ from its
  commit, so its results belong to no commit. Blocking unless ``--allow-dirty``; a note for a
  rerun, where both sides ran the very same code.

Manifests written before distbench recorded a digest have none: nothing is checked for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

SAME_CODE, DIRTY = "same code on both sides", "modified sources"


@dataclass(frozen=True)
class Finding:
    kind: str           # SAME_CODE or DIRTY (also the verdict when blocking)
    text: str
    blocking: bool      # makes the comparison inconclusive (exit 3)


def _short(value: Any, n: int = 10) -> str:
    return str(value)[:n] if value else "unknown"


def side(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The provenance fields of one side's manifest."""
    return {k: manifest.get(k) for k in ("git_commit", "git_dirty", "code_digest", "code_dir", "launched_in")}


def _foreign(p: Mapping[str, Any]) -> bool:
    """Started in a distbench checkout whose code is not the code that ran."""
    inside = p.get("launched_in")
    return isinstance(inside, dict) and inside.get("code_digest") not in (None, p.get("code_digest"))


def check(base: Mapping[str, Any], new: Mapping[str, Any], *, allow_same_code: bool = False,
          allow_dirty: bool = False, require_identical: bool = False, two_versions: bool = False,
          verified: bool = False) -> list[Finding]:
    """The findings about two manifests (BASE and NEW); see the module's docstring.

    ``two_versions``: the caller knows the sides are meant to be two versions (``distbench
    gate``), so the same code at the same commit is no rerun. ``verified``: the caller ran each
    side from its own commit's checkout itself, so different commits with the same code mean the
    change touches no simulating source."""
    b, n = side(base), side(new)
    findings: list[Finding] = []
    same = b["code_digest"] is not None and b["code_digest"] == n["code_digest"]
    commits_differ = bool(b["git_commit"] and n["git_commit"] and b["git_commit"] != n["git_commit"])
    foreign = _foreign(b) or _foreign(n)
    rerun = same and not commits_differ and not foreign and not two_versions
    digest = _short(b["code_digest"], 12)
    if rerun:
        findings.append(Finding(SAME_CODE, f"BASE and NEW ran the same code (commit {_short(n['git_commit'])}, "
                                f"code digest {digest}): whatever differs, no code change made it.",
                                False))
    elif same and verified and commits_differ and not foreign:
        findings.append(Finding(SAME_CODE, f"BASE (commit {_short(b['git_commit'])}) and NEW (commit "
                                f"{_short(n['git_commit'])}) ran the same code (digest {digest}): the change "
                                "touches no simulating source, so every run is identical by construction.",
                                False))
    elif same:
        why = []
        if commits_differ:
            why.append(f"they record different commits (BASE {_short(b['git_commit'])}, NEW "
                       f"{_short(n['git_commit'])}): the change touches no simulating source, or a side "
                       "was labelled with the wrong commit")
        elif two_versions:
            why.append(f"both are commit {_short(n['git_commit'])}: there is no change to measure")
        for role, p in (("BASE", b), ("NEW", n)):
            if _foreign(p):
                inside = p["launched_in"]
                why.append(f"{role} was started in the checkout {inside.get('dir')} (commit "
                           f"{_short(inside.get('commit'))}) but ran the code in {p['code_dir']} (commit "
                           f"{_short(p['git_commit'])}): the distbench on PATH is not that checkout's")
        allowed = allow_same_code or (require_identical and not foreign)
        findings.append(Finding(SAME_CODE, f"BASE and NEW ran the same code (digest {digest}), so nothing "
                                f"about a change was measured: {'; '.join(why)}. "
                                + ("Allowed." if allowed else _advice(two_versions)), not allowed))
    for role, p in (("BASE", b), ("NEW", n)):
        if p["git_dirty"]:
            ok = allow_dirty or rerun
            findings.append(Finding(DIRTY, f"{role} ran from a work tree with uncommitted changes to "
                                    f"simulating sources (commit {_short(p['git_commit'])} plus changes, code "
                                    f"digest {_short(p['code_digest'], 12)}): its results belong to no commit. "
                                    + ("Allowed." if ok else
                                       "Commit the change and run again, or pass --allow-dirty."), not ok))
    return findings


def _advice(two_versions: bool) -> str:
    if two_versions:
        return "Gate against another commit, or pass --allow-same-code for a reproducibility check."
    return ("Use `distbench gate SUITE --base REF` to run each side with its own code, or pass "
            "--allow-same-code if this is intended (a change that touches no simulating source).")


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocking]


def markdown(base: Mapping[str, Any], new: Mapping[str, Any], findings: list[Finding]) -> list[str]:
    """The header lines: each side's commit, dirty flag and digest, then the findings (blocking
    ones loud)."""
    def describe(p: Mapping[str, Any]) -> str:
        state = {True: ", **modified**", False: ""}.get(p.get("git_dirty"), "")
        return (f"commit `{_short(p.get('git_commit'))}`{state}, code `{_short(p.get('code_digest'), 12)}`")

    lines = [f"Code: BASE {describe(side(base))} · NEW {describe(side(new))}", ""]
    for f in findings:
        lines += [f"> ⚠️ **{f.kind.capitalize()}.** {f.text}" if f.blocking else f"> {f.text}", ""]
    return lines


def to_json(base: Mapping[str, Any], new: Mapping[str, Any], findings: list[Finding]) -> dict[str, Any]:
    return {"base": side(base), "new": side(new),
            "findings": [{"kind": f.kind, "blocking": f.blocking, "text": f.text} for f in findings]}
