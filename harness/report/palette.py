"""One colour per contender, the same in every chart of a report.

When the contenders are protocols, built-in protocols have fixed colours (from seaborn's
colour-blind-safe palette) and any other protocol name gets a colour from its hash, so it keeps
its colour from report to report. Other contenders (``prevote = true``, bundle labels) take the
palette in matrix order (a label naming a built-in protocol keeps its colour).
"""

from __future__ import annotations

import hashlib

# seaborn "colorblind" palette, written out so it cannot drift with a seaborn release.
_COLORBLIND = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
               "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9")
_BUILTIN = {"raft": 0, "multipaxos": 1, "2pl": 2, "occ": 3, "2pc": 4}
_ALIASES = {"paxos": "multipaxos", "multi-paxos": "multipaxos", "multi_paxos": "multipaxos",
            "twopl": "2pl", "2-pl": "2pl", "twopc": "2pc", "2-pc": "2pc"}
# Colours for other protocols: the rest of the palette, then darker tones that are still distinct.
# (none of them close to a built-in's hue).
_FALLBACK = ("#ca9161", "#17becf", "#7f3c8d", "#bcbd22", "#949494", "#8c564b", "#222222",
             "#66a61e")


def _canonical(name: str) -> str:
    n = name.strip().lower()
    return _ALIASES.get(n, n)


def protocol_sort_key(name: str) -> tuple[int, str]:
    """Built-ins in their usual order, then others alphabetically."""
    return (_BUILTIN.get(_canonical(name), len(_BUILTIN)), name)


def protocol_colors(protocols: list[str]) -> dict[str, str]:
    """Colour per protocol. Built-ins are fixed; others hash into the fallback list, moving to
    the next free colour only if two protocols of the same report collide."""
    colors: dict[str, str] = {}
    used: set[str] = set()
    for p in protocols:
        c = _canonical(p)
        if c in _BUILTIN:
            colors[p] = _COLORBLIND[_BUILTIN[c]]
            used.add(colors[p])
    for p in sorted(p for p in protocols if p not in colors):
        i = int(hashlib.sha1(_canonical(p).encode()).hexdigest(), 16) % len(_FALLBACK)
        for k in range(len(_FALLBACK)):
            c = _FALLBACK[(i + k) % len(_FALLBACK)]
            if c not in used:
                break
        colors[p] = c
        used.add(c)
    return {p: colors[p] for p in protocols}


def contender_colors(contenders: list[str], compare: str = "protocol",
                     values: dict[str, str] | None = None) -> dict[str, str]:
    """Colour per contender: :func:`protocol_colors` for protocols; otherwise a label that names a
    built-in protocol, or whose value (``values``: label -> value of the compared key) does
    (``participants = occ``), keeps its colour and the others take the palette's free colours in order."""
    if compare == "protocol":
        return protocol_colors(contenders)
    named = {c: _canonical(str((values or {}).get(c, c))) for c in contenders}
    named = {c: n if n in _BUILTIN else _canonical(c) for c, n in named.items()}
    fixed = {c: _COLORBLIND[_BUILTIN[n]] for c, n in named.items() if n in _BUILTIN}
    free = iter([c for c in _COLORBLIND if c not in fixed.values()] * 2)
    return {c: fixed[c] if c in fixed else next(free) for c in contenders}


MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")


def contender_markers(contenders: list[str]) -> dict[str, str]:
    """A marker per contender too, so lines stay distinguishable in greyscale print."""
    return {p: MARKERS[i % len(MARKERS)] for i, p in enumerate(contenders)}
