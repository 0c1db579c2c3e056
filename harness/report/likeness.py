"""Like with like: whether the runs a report compares differ only in what is compared (the
protocol and its own settings, the swept key, a contender's bundle), and if not, in which keys."""

from __future__ import annotations

from .load import CONTENDER, Results


_RUN_SPECIFIC = ("protocol", "seed", "run_id", "name", "out", "output")


def like_for_like(res: Results) -> tuple[bool | None, list[str], dict[str, dict[str, str]]]:
    """Whether runs of different protocols at the same parameter point and seed share their
    resolved config, apart from the protocol and its own settings (``protocols.<name>.*``).
    Returns (verdict, differing keys, {protocol: {setting: value}}); verdict None when the
    manifest has no resolved configs."""
    from harness.compare.sides import flatten

    from .load import display_value
    runs = res.manifest.get("runs") or []
    by_id = {str(r.get("run_id")): r for r in runs if isinstance(r.get("config"), dict)}
    if not by_id or len(res.contenders) < 2:
        return None, [], {}
    label = dict(zip(res.runs["run_id"], res.runs[CONTENDER]))
    specific: dict[str, dict[str, str]] = {}
    for rid, r in by_id.items():
        proto = (r.get("params") or {}).get("protocol") or r["config"].get("protocol")
        own = (r["config"].get("protocols") or {}).get(proto) if isinstance(r["config"].get("protocols"), dict) else None
        if isinstance(proto, str) and isinstance(own, dict) and rid in label:
            specific.setdefault(label[rid], {}).update({k: display_value(v) for k, v in flatten(own).items()})
    # The compared key and every key a contender bundle sets differ by design.
    bundles = res.manifest.get("contenders") if isinstance(res.manifest.get("contenders"), dict) else {}
    chosen = [res.compare, *(k for b in bundles.values() if isinstance(b, dict) for k in b)]
    diffs: set[str] = set()
    keys = res.param_keys
    for _, g in res.runs.groupby([*keys, "seed"], dropna=False, sort=False):
        flats = [flatten(by_id[rid]["config"]) for rid in g["run_id"] if rid in by_id]
        if len(flats) < 2:
            continue
        all_keys = set().union(*flats)
        for k in all_keys:
            leaf = k.rsplit(".", 1)[-1]
            if (k in _RUN_SPECIFIC or leaf in ("protocol", "seed") or k.startswith("protocols.")
                    or any(k == c or k.startswith(c + ".") for c in chosen)):
                continue
            vals = {repr(f.get(k, "<absent>")) for f in flats}
            if len(vals) > 1:
                diffs.add(k)
    return (not diffs), sorted(diffs), {p: specific[p] for p in res.contenders if specific.get(p)}
