"""``report.md``: GitHub-flavoured Markdown for a pull-request comment or a CI job summary.

Charts are referenced as relative PNG files (``charts/<name>.png``), so the Markdown renders with
its images wherever the results directory is browsed (GitHub, an artifact viewer, an editor).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from .document import PREDICTION_BLURB, Document
from .explain import blurb
from .tables import Table, capitalize


def _cell(s: object) -> str:
    """Escape what would break a GFM table cell."""
    return str(s).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table_md(t: Table) -> str:
    show_metric = t.multi_metric or not t.params
    heads = (["metric"] if show_metric else []) + t.param_headers()
    heads += [f"{p} (ref)" if p == t.reference else p for p in t.contenders]
    align = (["---"] if show_metric else []) + ["---:"] * len(t.params) + ["---:"] * len(t.contenders)
    lines = [_row([_cell(h) for h in heads]), _row(align)]
    by_metric: dict[str, list] = {}
    for r in t.rows:
        by_metric.setdefault(r.metric.key, []).append(r)
    for m in t.metrics:
        rows = by_metric.get(m.key, [])
        for i, r in enumerate(rows):
            cells = []
            if show_metric:
                unit = f" ({m.unit})" if m.unit else ""
                cells.append(_cell(f"{capitalize(m.label)}{unit}") if i == 0 else "")
            cells += [_cell(v) for v in r.point]
            for p in t.contenders:
                c = r.cells.get(p)
                if c is None:
                    cells.append("—")
                    continue
                text = c.text(m, r.decimals)
                if c.best:
                    text = f"**{text}**"
                if c.marks:
                    text += c.marks
                d = c.delta_text(m)
                if d:
                    text += f" ({d})"
                if c.unsafe:
                    text += " ⚠"
                cells.append(_cell(text))
            lines.append(_row(cells))
        geo = t.geomean.get(m.key) or {}
        if geo and any(v is not None for v in geo.values()):
            cells = ([""] if show_metric else []) + [f"*{t.geo_label(m)}*"] + [""] * (len(t.params) - 1)
            cells += [t.geo_text(m, geo.get(p)) for p in t.contenders]
            lines.append(_row(cells))
    out = "\n".join(lines)
    if t.notes:
        out += "\n\n" + "\n\n".join(f"_{n}_" for n in t.notes)
    if not show_metric and t.metrics:
        m = t.metrics[0]
        bits = ", ".join(b for b in (m.unit, m.better_text) if b)
        out = f"{capitalize(m.label)}{' (' + bits + ')' if bits else ''}.\n\n" + out
    return out


def _safety(doc: Document) -> str:
    rows = doc.safety
    n = len(doc.res.runs)
    if not rows:
        remark = doc.safety_remarks()
        text = f"✅ **Safety:** all {n} runs passed their safety checks{' (' + remark + ')' if remark else ''}."
        return text + ("\n\n" + _safety_tables(doc) if doc.safety_details()[1] else "")
    bad = [r for r in rows if r.violation]
    if bad:
        head = (f"> [!CAUTION]\n> **⚠ SAFETY VIOLATION in {len(bad)} of {n} runs.** A benchmark of an "
                f"incorrect protocol is worthless: the affected cells are marked ⚠ below and must not be trusted."
                + (f" {doc.unjudged()}" if len(bad) < len(rows) else ""))
    else:
        head = f"> [!WARNING]\n> **{doc.unjudged()}** No violation was found."
    return head + "\n\n" + _safety_tables(doc)


def _safety_tables(doc: Document) -> str:
    """Counts per contender, then every run's verdict and checker detail folded away."""
    header, counts = doc.safety_counts()
    lines = [_row([_cell(h) for h in header]), _row(["---"] + ["---:"] * (len(header) - 1))]
    lines += [_row([_cell(v) for v in r]) for r in counts]
    dh, details = doc.safety_details()
    bad = [r for r in details if r[-2].startswith(("violation", "error"))]
    rest = [r for r in details if r not in bad]
    if bad:  # violations stay in view
        lines += ["", _row([_cell(h) for h in dh]), _row(["---"] * len(dh))]
        lines += [_row([_cell(v) for v in r[:-2]] + [f"**{_cell(r[-2])}**", _cell(r[-1])]) for r in bad]
    if rest:
        lines += ["", f"<details><summary>Verdicts and checker details of {len(rest)}{' more' if bad else ''} runs</summary>", "",
                  _row([_cell(h) for h in dh]), _row(["---"] * len(dh))]
        lines += [_row([_cell(v) for v in r]) for r in rest]
        lines += ["", "</details>"]
    return "\n".join(lines)


def render_markdown(doc: Document, md_path: Path) -> str:
    res = doc.res
    out = [f"# {doc.title}", "", f"distbench comparison report · {res.kind} suite", ""]
    if doc.partial():
        out += [f"> [!WARNING]\n> **{doc.partial()}**", ""]
    out += [f"- **{k}:** {v}" for k, v in doc.summary_items()]
    out += ["", "## Safety", "", _safety(doc), "", "## Key findings", ""]
    if doc.findings:
        out += [f"- {f}" for f in doc.findings]
    else:
        out.append(f"Only one {res.noun} ran: nothing to compare." if len(res.contenders) < 2
                   else "No comparable metrics.")
    bold = ("**" + doc.bold.replace(": ", "**: ", 1)) if doc.bold else ""
    out += ["", f"_{doc.method} {bold}_"]
    if doc.like_text():
        out += ["", f"_{doc.like_text()}_"]
    for note in res.notes:
        out += ["", f"> Note: {note}"]
    for fam, charts, table in doc.sections():
        out += ["", f"## {doc.family_title(fam)}", "", doc.family_blurb(fam), ""]
        for c in charts:
            png = next((f for f in c.files if f.suffix == ".png"), None)
            if png is not None:
                rel = Path(os.path.relpath(png, md_path.parent)).as_posix()
                out += [f"![{c.title}]({rel})", "", f"_{c.caption}_", ""]
        if table is not None:
            out += [table_md(table), ""]
    if doc.explained:
        out += ["", "## Where the difference comes from", "", blurb(res.kind)]
        for e in doc.explained:
            out += ["", f"**{_cell(doc.point_text(e.point))}** — " + "; ".join(e.differences), "",
                    _row([_cell(h) for h in e.header]), _row(["---"] + ["---:"] * (len(e.header) - 1))]
            out += [_row([_cell(v) for v in r]) for r in e.rows]
    header, rows = doc.predictions()
    if rows:
        out += ["", "## Measured and predicted", "", PREDICTION_BLURB, "", _row([_cell(h) for h in header]),
                _row(["---"] * (len(header) - 3) + ["---:"] * 3)]
        out += [_row([_cell(v) for v in r]) for r in rows]
    out += ["", "## All metrics", ""]
    for t in doc.all_tables:
        out += [f"<details><summary>{t.title}: {', '.join(m.label for m in t.metrics)}</summary>", "",
                table_md(t), "", "</details>", ""]
    out += ["## Configuration and provenance", "", _row(["", ""]), _row(["---", "---"])]
    out += [_row([_cell(k), _cell(v)]) for k, v in doc.provenance()]
    cfg = res.manifest.get("suite_config")
    if cfg:
        text = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
        out += ["", "<details><summary>Resolved suite configuration (durations in seconds)</summary>", "", "```yaml",
                text.rstrip(), "```", "", "</details>"]
    header, rows = doc.run_rows()
    out += ["", f"<details><summary>All {len(rows)} runs</summary>", "", _row([_cell(h) for h in header]),
            _row(["---"] * len(header))]
    out += [_row([_cell(v) for v in r]) for r in rows]
    out += ["", "</details>", ""]
    return "\n".join(out)
