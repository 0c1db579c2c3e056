"""``summary.csv``: the report's tables as tidy data, one row per matrix point and contender.

Columns: the point's swept keys and the compared key (values as in runs.csv, or their labels),
``n`` (runs in the cell), then for every metric ``<metric>_mean``, ``<metric>_ci_lo``,
``<metric>_ci_hi`` (the 95% Student-t interval of the mean across seeds, in the units of runs.csv),
``<metric>_delta_pct`` — or ``<metric>_delta_pp`` for a rate shown as a percentage (the difference
in percentage points) — against the reference at the same point, and ``<metric>_p``, the p-value
of that difference (paired t-test by seed; Welch's t-test when the two share no seed). The
reference's own delta and p are empty, as are the CI bounds of a single run.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from harness.catalog.metrics import metric_for

from .load import CONTENDER, Results
from .tables import _ordered_metrics, metric_rows


def summary_frame(res: Results) -> pd.DataFrame:
    """The summary table of ``res`` (see the module docstring)."""
    keys = res.param_keys
    raw = res.raw.set_index("run_id") if res.raw is not None else None
    groups = res.runs.groupby([*keys, CONTENDER], sort=False, dropna=False)
    rows: dict[tuple, dict] = {}
    order: list[tuple] = []
    for gkey, g in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        point, contender = tuple(gkey[:-1]), gkey[-1]
        first = str(g["run_id"].iloc[0])
        row: dict = {}
        for k, shown in zip(keys, point):
            row[k] = raw.at[first, k] if raw is not None and k in raw.columns else shown
        value = res.values.get(contender, contender)
        if raw is not None and res.compare in raw.columns:
            value = raw.at[first, res.compare]
        row[res.compare] = value
        row["n"] = len(g)
        rows[(point, contender)] = row
        order.append((point, contender))
    for key in _ordered_metrics(res):
        m = metric_for(key)
        for r in metric_rows(res, m):
            for contender, cell in r.cells.items():
                row = rows.get((r.point, contender))
                if row is None or cell is None:
                    continue
                s = cell.summary
                row[f"{key}_mean"] = s.mean
                row[f"{key}_ci_lo"] = s.lo if s.half is not None else math.nan
                row[f"{key}_ci_hi"] = s.hi if s.half is not None else math.nan
                delta = f"{key}_delta_pp" if m.percent else f"{key}_delta_pct"
                row[delta] = math.nan if cell.delta is None else cell.delta
                row[f"{key}_p"] = math.nan if cell.p is None else cell.p
    rank = {c: i for i, c in enumerate(res.contenders)}
    order.sort(key=lambda pc: (res.point_order(pc[0]), rank.get(pc[1], len(rank))))
    frame = pd.DataFrame([rows[k] for k in order])
    # Every metric's five columns, even where a cell had no value.
    columns = [*keys, res.compare, "n"]
    for key in _ordered_metrics(res):
        d = "delta_pp" if metric_for(key).percent else "delta_pct"
        columns += [f"{key}_{s}" for s in ("mean", "ci_lo", "ci_hi", d, "p")]
    return frame.reindex(columns=list(dict.fromkeys(columns)))


def write_summary(res: Results, path: Path) -> Path:
    summary_frame(res).to_csv(path, index=False, float_format="%.10g")
    return path
