"""An HTML timeline of a window of operations, as Porcupine's visualisation draws one: a lane
per process, a bar per operation from its invocation to its completion, the operations that
cannot be linearized together marked. One self-contained file (inline CSS, no script), so it
opens anywhere and can be attached to a bug report."""

from __future__ import annotations

import html
import math
from typing import Callable

from harness.history import INFO, OK, PENDING, History

_CSS = """
body{font:13px system-ui,sans-serif;margin:1.5em;color:#222}
.lane{position:relative;height:34px;border-bottom:1px solid #eee}
.name{position:absolute;left:0;width:8em;top:9px;color:#666}
.track{position:absolute;left:8.5em;right:1em;top:4px;bottom:4px}
.op{position:absolute;top:0;bottom:0;border-radius:3px;background:#cfd8e3;border:1px solid #8a9bb0;
overflow:hidden;white-space:nowrap;font-size:11px;padding:0 3px;box-sizing:border-box}
.op.bad{background:#f7c6c1;border:2px solid #c0392b;font-weight:600}
.op.open{border-right-style:dashed;background-image:linear-gradient(90deg,transparent 80%,#fff)}
.key{margin:.8em 0;color:#555}.key span{display:inline-block;padding:0 6px;margin-right:1em}
"""


def render(history: History, marked: list[int], context: list[int], title: str,
           show: Callable[[int], str], lane: Callable[[int], object], unit: str) -> str:
    """The page: ``marked`` ops (the window) and ``context`` ops (others of the same key in its
    span), ``show(i)`` describes op i, ``lane(i)`` names its process, times in ``unit``."""
    ops = sorted(set(marked) | set(context), key=lambda i: history.t_invoke[i])
    bad = set(marked)
    finite = [history.t_return[i] for i in ops if math.isfinite(history.t_return[i])]
    t0 = min(history.t_invoke[i] for i in ops)
    t1 = max(finite + [history.t_invoke[i] for i in ops])
    t1 += (t1 - t0) * 0.05 or 1.0  # room for the open calls to run on

    def x(t: float) -> float:
        return 100.0 * (min(t, t1) - t0) / (t1 - t0)

    lanes: dict[object, list[int]] = {}
    for i in ops:
        lanes.setdefault(lane(i), []).append(i)
    rows = []
    for name, items in sorted(lanes.items(), key=lambda kv: history.t_invoke[kv[1][0]]):
        bars = []
        for i in items:
            status = history.status[i]
            end = history.t_return[i] if status not in (INFO, PENDING) else t1
            label = html.escape(show(i))
            cls = "op" + (" bad" if i in bad else "") + (" open" if status != OK else "")
            left = x(history.t_invoke[i])
            width = max(x(end) - left, 0.6)
            bars.append(f'<div class="{cls}" style="left:{left:.3f}%;width:{width:.3f}%" '
                        f'title="{label}">{label}</div>')
        rows.append(f'<div class="lane"><div class="name">process {html.escape(str(name))}</div>'
                    f'<div class="track">{"".join(bars)}</div></div>')
    legend = ('<div class="key"><span class="op bad" style="position:static">cannot be '
              'linearized together</span><span class="op" style="position:static">other '
              'operations on the same key</span><span class="op open" style="position:static">'
              'never completed (info)</span></div>')
    span = f"{t0:g} to {t1:g} {unit}"
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{_CSS}</style></head><body><h2>{html.escape(title)}</h2>"
            f"<p>{len(bad)} operations that cannot be linearized together (marked), "
            f"{len(ops) - len(bad)} others in their span; time runs left to right, "
            f"{html.escape(span)}. Hover a bar for the operation.</p>{legend}"
            f"{''.join(rows)}</body></html>\n")
