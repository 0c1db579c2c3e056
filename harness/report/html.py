"""``report.html``: one self-contained file (inline CSS, charts as base64 PNG data URIs).

No scripts, no fonts, no stylesheets or images fetched from anywhere: it opens offline and can be
attached to an e-mail or a CI artifact as is.
"""

from __future__ import annotations

import base64
import re
from html import escape

import yaml

from .document import PREDICTION_BLURB, Document
from .explain import blurb
from harness.catalog.metrics import HIGHER
from .palette import contender_colors
from .tables import Cell, Table, capitalize

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg-alt:#f6f8fa; --best:#0a3069;
        --good:#1a7f37; --bad:#cf222e; --warn-bg:#fff8c5; --warn-line:#d4a72c;
        --bad-bg:#ffebe9; --ok-bg:#dafbe1; }
* { box-sizing: border-box; }
body { margin:0; color:var(--fg); background:#fff;
       font: 15px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 64px; }
h1 { font-size: 1.75em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 40px 0 8px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05em; margin: 24px 0 6px; }
p.lead { color: var(--muted); margin: 0 0 14px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0;
          font-size: .9em; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
nav.toc { font-size: .9em; margin: 14px 0 4px; } nav.toc a { margin-right: 14px; white-space: nowrap; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
.banner { border: 1px solid; border-radius: 6px; padding: 10px 14px; margin: 16px 0; }
.banner.violation { background: var(--bad-bg); border-color: var(--bad); }
.banner.violation strong.big { color: var(--bad); font-size: 1.1em; }
.banner.unknown { background: var(--warn-bg); border-color: var(--warn-line); }
.banner.ok { background: var(--ok-bg); border-color: #4ac26b; }
ul.findings li { margin: 6px 0; }
p.method, p.note, figcaption, .legend { color: var(--muted); font-size: .88em; }
figure { margin: 18px 0 8px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
             border-radius: 4px; }
figcaption { margin-top: 4px; }
.tablewrap { overflow-x: auto; margin: 10px 0 6px; }
table { border-collapse: collapse; font-size: .88em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 9px; vertical-align: top; }
thead th { background: var(--bg-alt); text-align: center; white-space: nowrap; }
tbody tr:nth-child(even) td.num, tbody tr:nth-child(even) td.param { background: #fbfcfd; }
td.num { text-align: right; white-space: nowrap; }
td.param { text-align: right; white-space: nowrap; }
td.metric { background: var(--bg-alt); white-space: nowrap; }
td.metric small { display: block; color: var(--muted); }
td.best { font-weight: 700; color: var(--best); }
td.unsafe { background: var(--bad-bg) !important; }
.d { display: block; font-size: .85em; font-weight: 400; color: var(--muted); }
.d.better { color: var(--good); } .d.worse { color: var(--bad); }
tr.geo td { background: var(--bg-alt); font-style: italic; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: 5px;
          vertical-align: -1px; }
.ref { font-weight: 400; color: var(--muted); font-size: .85em; }
table.kv td:first-child { color: var(--muted); white-space: nowrap; }
table.safety td { background: #fff; }
table.safety td.verdict-violation { color: var(--bad); font-weight: 700; }
pre { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
      overflow-x: auto; font-size: .82em; line-height: 1.4; }
details { margin: 10px 0; } summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 48px; color: var(--muted); font-size: .82em; }
"""


def _e(s: object) -> str:
    return escape(str(s), quote=True)


def inline(s: str) -> str:
    """Escape and render the findings' tiny markup (``**bold**``)."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(s))


def _anchor(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def _delta_class(cell: Cell, better: str | None) -> str:
    if cell.delta is None or cell.significant is not True or better is None or cell.delta == 0:
        return ""
    return "better" if (cell.delta > 0) == (better == HIGHER) else "worse"


def table_html(t: Table, colors: dict[str, str]) -> str:
    heads = "".join(f"<th>{_e(h)}</th>" for h in t.param_headers())
    if t.multi_metric or not t.params:
        heads = "<th>metric</th>" + heads
    for p in t.contenders:
        ref = ' <span class="ref">(reference)</span>' if p == t.reference else ""
        heads += (f'<th><span class="swatch" style="background:{colors[p]}"></span>{_e(p)}{ref}</th>')
    body = []
    by_metric: dict[str, list] = {}
    for r in t.rows:
        by_metric.setdefault(r.metric.key, []).append(r)
    for m in t.metrics:
        rows = by_metric.get(m.key, [])
        geo = t.geomean.get(m.key) or {}
        show_geo = bool(geo) and any(v is not None for v in geo.values())
        span = len(rows) + (1 if show_geo else 0)
        for i, r in enumerate(rows):
            tds = []
            if (t.multi_metric or not t.params) and i == 0:
                unit = f"{m.unit}, " if m.unit else ""
                tds.append(f'<td class="metric" rowspan="{span}">{_e(capitalize(m.label))}'
                           f"<small>{_e(unit + m.better_text) if (unit or m.better_text) else ''}</small></td>")
            tds += [f'<td class="param">{_e(v)}</td>' for v in r.point]
            for p in t.contenders:
                c = r.cells.get(p)
                if c is None:
                    tds.append('<td class="num">—</td>')
                    continue
                cls = ["num"] + (["best"] if c.best else []) + (["unsafe"] if c.unsafe else [])
                warn = ' <span title="a run in this cell violated safety">⚠</span>' if c.unsafe else ""
                if c.marks:
                    warn += f'<sup>{_e(c.marks)}</sup>'
                title = f"n={c.summary.n}"
                d = c.delta_text(m)
                dhtml = f'<span class="d {_delta_class(c, m.better)}">{_e(d)}</span>' if d else ""
                tds.append(f'<td class="{" ".join(cls)}" title="{title}">{_e(c.text(m, r.decimals))}'
                           f"{warn}{dhtml}</td>")
            body.append("<tr>" + "".join(tds) + "</tr>")
        if show_geo:
            label = f'<td class="param" colspan="{max(1, len(t.params))}">{_e(t.geo_label(m))}</td>'
            cells = "".join(f'<td class="num">{_e(t.geo_text(m, geo.get(p))) if p in geo else ""}</td>'
                            for p in t.contenders)
            body.append(f'<tr class="geo">{label}{cells}</tr>')
    caption = ""
    if not t.multi_metric and t.params and t.metrics:
        m = t.metrics[0]
        caption = (f'<p class="legend">{_e(capitalize(m.label))}'
                   f"{' (' + _e(m.unit) + ')' if m.unit else ''}{', ' + _e(m.better_text) if m.better_text else ''}.</p>")
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in t.notes)
    return (f'{caption}<div class="tablewrap"><table id="{_e(t.id)}"><thead><tr>{heads}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>{notes}")


def _figure(c) -> str:
    data = base64.b64encode(c.png).decode("ascii")
    w, h = c.size_px
    size = f' width="{w}" height="{h}"' if w and h else ""
    return (f'<figure id="chart-{_e(c.name)}"><img alt="{_e(c.title)}"{size} src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(c.caption)} <em>({_e(c.name)}.png / .svg)</em></figcaption></figure>")


def _safety(doc: Document) -> str:
    rows = doc.safety
    n = len(doc.res.runs)
    if not rows:
        remark = doc.safety_remarks()
        text = (f'<div class="banner ok">✓ <strong>Safety:</strong> all {n} runs passed their '
                f"safety checks{' (' + _e(remark) + ')' if remark else ''}.</div>")
        return text + (_safety_tables(doc) if doc.safety_details()[1] else "")
    bad = [r for r in rows if r.violation]
    if bad:
        head = (f'<div class="banner violation"><strong class="big">⚠ SAFETY VIOLATION in {len(bad)} of {n} '
                f"runs.</strong> A benchmark of an incorrect protocol is worthless: the numbers of "
                f"the affected cells are marked ⚠ below and must not be trusted."
                + (f" {_e(doc.unjudged())}" if len(bad) < len(rows) else "") + "</div>")
    else:
        head = (f'<div class="banner unknown"><strong>{_e(doc.unjudged())}</strong> '
                f"No violation was found.</div>")
    return head + _safety_tables(doc)


def _safety_tables(doc: Document) -> str:
    """Counts per contender, then every run's verdict and checker detail folded away."""
    header, counts = doc.safety_counts()
    out = ('<div class="tablewrap"><table class="safety"><thead><tr>'
           + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>"
           + "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in counts)
           + "</tbody></table></div>")
    dh, details = doc.safety_details()
    bad = [r for r in details if r[-2].startswith(("violation", "error"))]
    rest = [r for r in details if r not in bad]

    def table(rows: list[list[str]]) -> str:
        trs = []
        for r in rows:
            cls = "verdict-violation" if r[-2].startswith(("violation", "error")) else ""
            trs.append("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r[:-2])
                       + f'<td class="{cls}">{_e(r[-2])}</td><td>{_e(r[-1])}</td></tr>')
        return ('<div class="tablewrap"><table class="safety"><thead><tr>'
                + "".join(f"<th>{_e(h)}</th>" for h in dh) + f"</tr></thead><tbody>{''.join(trs)}"
                "</tbody></table></div>")

    if bad:  # violations stay in view
        out += table(bad)
    if rest:
        out += (f"<details><summary>Verdicts and checker details of {len(rest)}{' more' if bad else ''} runs</summary>"
                + table(rest) + "</details>")
    return out


def render_html(doc: Document) -> str:
    res = doc.res
    colors = contender_colors(res.contenders, res.compare, res.values)
    sections = doc.sections()
    out = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
           '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
           f"<title>{_e(doc.title)} — distbench report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"]
    if doc.partial():
        out.append(f'<div class="banner unknown"><strong>⚠ {_e(doc.partial())}</strong></div>')
    out.append(f"<header><h1>{_e(doc.title)}</h1>"
               f'<p class="lead">distbench comparison report · {_e(res.kind)} suite</p>')
    out.append('<dl class="meta">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>"
                                             for k, v in doc.summary_items()) + "</dl>")
    toc = [("safety", "Safety"), ("findings", "Key findings")]
    toc += [(_anchor(doc.family_title(f)), doc.family_title(f)) for f, _, _ in sections]
    if doc.explained:
        toc.append(("difference", "Where the difference comes from"))
    if doc.predictions()[1]:
        toc.append(("prediction", "Measured and predicted"))
    toc += [("all-metrics", "All metrics"), ("configuration", "Configuration")]
    out.append('<nav class="toc">' + "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in toc) + "</nav></header>")

    out.append(f'<section id="safety">{_safety(doc)}</section>')

    out.append('<section id="findings"><h2>Key findings</h2>')
    if doc.findings:
        out.append('<ul class="findings">' + "".join(f"<li>{inline(f)}</li>" for f in doc.findings) + "</ul>")
    else:
        out.append(f"<p>Only one {res.noun} ran: nothing to compare.</p>" if len(res.contenders) < 2
                   else "<p>No comparable metrics.</p>")
    out.append(f'<p class="method">{_e(doc.method)} {inline("**" + doc.bold.replace(": ", "**: ", 1)) if doc.bold else ""}</p>')
    if doc.like_text():
        out.append(f'<p class="method">{_e(doc.like_text())}</p>')
    for note in res.notes:
        out.append(f'<p class="note">Note: {_e(note)}</p>')
    out.append("</section>")

    for fam, charts, table in sections:
        title = doc.family_title(fam)
        out.append(f'<section id="{_anchor(title)}"><h2>{_e(title)}</h2><p class="lead">{_e(doc.family_blurb(fam))}</p>')
        for c in charts:
            out.append(_figure(c))
        if table is not None:
            out.append(table_html(table, colors))
        out.append("</section>")

    if doc.explained:
        out.append('<section id="difference"><h2>Where the difference comes from</h2>'
                   f'<p class="lead">{inline(blurb(res.kind))}</p>')
        for e in doc.explained:
            out.append(f"<p><strong>{_e(doc.point_text(e.point))}</strong> — {_e('; '.join(e.differences))}</p>"
                       '<div class="tablewrap"><table><thead><tr>'
                       + "".join(f"<th>{_e(h)}</th>" for h in e.header) + "</tr></thead><tbody>"
                       + "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in e.rows)
                       + "</tbody></table></div>")
        out.append("</section>")

    header, rows = doc.predictions()
    if rows:
        out.append(f'<section id="prediction"><h2>Measured and predicted</h2><p class="lead">{_e(PREDICTION_BLURB)}</p>'
                   '<div class="tablewrap"><table><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in header)
                   + "</tr></thead><tbody>"
                   + "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in rows)
                   + "</tbody></table></div></section>")

    out.append('<section id="all-metrics"><h2>All metrics</h2>'
               f'<p class="lead">Every metric in runs.csv, same layout as above. {_e(doc.method)}</p>')
    for t in doc.all_tables:
        out.append(f"<details><summary>{_e(t.title)}: {_e(', '.join(m.label for m in t.metrics))}</summary>"
                   f"{table_html(t, colors)}</details>")
    out.append("</section>")

    out.append('<section id="configuration"><h2>Configuration and provenance</h2>')
    out.append('<div class="tablewrap"><table class="kv"><tbody>' + "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in doc.provenance()) + "</tbody></table></div>")
    cfg = res.manifest.get("suite_config")
    if cfg:
        text = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
        out.append("<details><summary>Resolved suite configuration (durations in seconds)</summary>"
                   f"<pre>{_e(text)}</pre></details>")
    header, rows = doc.run_rows()
    out.append(f"<details><summary>All {len(rows)} runs</summary><div class=\"tablewrap\"><table><thead><tr>"
               + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>"
               + "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in rows)
               + "</tbody></table></div></details>")
    out.append("</section>")
    out.append(f"<footer>Generated by distbench from {_e(res.path)}. Charts are also written as PNG and SVG "
               "files next to this report.</footer>\n</main>\n</body>\n</html>\n")
    return "\n".join(out)
