"""The report's HTML: summary cards, one section per sweep, the data and plotly.js inlined.

What Python writes as HTML (summaries, failures, headings) goes through
:func:`html.escape`; what the page's script shows comes from one JSON document
embedded in a ``<script type="application/json">`` whose ``<``, ``>`` and ``&`` are
written as ``\\u003c``... so no text from the records (an error message holding
``</script>``) can end the element early.
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any, Dict, List, Sequence

from zenspec.visual.assets import SCRIPT, STYLE

__all__ = ["DATA_ID", "PLOTLY_GZ_ID", "embed_json", "render_page"]

#: the id of the ``<script type="application/json">`` holding the report's data
DATA_ID = "zenspec-data"
#: the id of the element holding plotly.js gzipped and base64-encoded (when compressed)
PLOTLY_GZ_ID = "zenspec-plotly-gz"

#: at most this many job numbers are listed in a failure group's row (all are in the data)
JOBS_SHOWN = 40

_SECTIONS = (
    ("params", "metric against each parameter"),
    ("history", "optimisation history"),
    ("curves", "learning curves (reported metrics)"),
    ("parcoords", "parallel coordinates"),  # last: the slowest to draw (WebGL)
)


def _finite(value: Any) -> Any:
    """*value* with every NaN and infinity (at any depth) made ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def embed_json(data: Any) -> str:
    """*data* as JSON safe inside a ``<script>`` element; a NaN left anywhere becomes null."""
    try:
        text = json.dumps(data, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except ValueError:  # the builders map non-finite numbers already: this is a safety net
        text = json.dumps(_finite(data), separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return (
        "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )


def _row(name: str, value: str) -> str:
    return f"<dt>{escape(name)}</dt><dd>{value}</dd>" if value else ""


def _card(sweep: Dict[str, Any]) -> str:
    s = sweep["summary"]
    counts = ", ".join(f"{n} {escape(k)}" for k, n in s["counts"].items())
    best = s["best"]
    best_html = ""
    if best is not None:
        params = " ".join(f"{k}={_num(v)}" for k, v in best["params"].items())
        best_html = (
            f"job {best['job']}: {escape(s['metric'] or 'metric')} = "
            f"{escape(_num(best['metric']))} ({escape(s['direction'])})"
            + (f"<br><code>{escape(params)}</code>" if params else "")
        )
    elif s["jobs"]:
        best_html = '<span class="note">none: no completed job has a metric</span>'
    when = escape(str(s["started_at"] or "")[:19].replace("T", " "))
    if s["ended_at"]:
        when += " &rarr; " + escape(str(s["ended_at"])[:19].replace("T", " "))
    if s["elapsed_s"] is not None:
        when += f" ({s['elapsed_s']:.1f} s)"
    tags = "".join(f'<span class="tag">{escape(f"{k}={v}")}</span>' for k, v in s["tags"].items())
    status = escape(str(s["status"]))
    rows = [
        _row("status", f'<span class="status-{status.split()[0]}">{status}</span>'),
        _row("jobs", f"{s['jobs']}" + (f": {counts}" if counts else "")),
        _row("best", best_html),
        _row("sweeper", escape(str(s["sweeper"]))),
        _row("tags", tags),
        _row("note", escape(s["note"] or "")),
        _row("when", when),
        _row("dir", f"<code>{escape(s['dir'])}</code>"),
        _row("damaged", escape("; ".join(s["damaged"]))),
    ]
    desc = f'<p class="desc">{escape(s["description"])}</p>' if s["description"] else ""
    return (
        f'<article class="card"><h3><a href="#{sweep["id"]}">{escape(s["name"])}</a></h3>'
        f"{desc}<dl>{''.join(rows)}</dl></article>"
    )


def _short(kind: str) -> str:
    """``ValueError`` for ``builtins.ValueError``; other modules' errors keep their path."""
    return kind[len("builtins.") :] if kind.startswith("builtins.") else kind


def _failures(sweep: Dict[str, Any]) -> str:
    groups = sweep["failures"]
    if not groups:
        return ""
    body = []
    for g in groups:
        jobs = ", ".join(str(n) for n in g["jobs"][:JOBS_SHOWN])
        if len(g["jobs"]) > JOBS_SHOWN:
            jobs += f", &hellip; ({len(g['jobs']) - JOBS_SHOWN} more)"
        others = g["messages"] - 1
        message = escape(g["message"]) + (
            f' <span class="note">(and {others} other message(s))</span>' if others > 0 else ""
        )
        trace = ""
        if g["traceback"]:
            trace = (
                f"<details><summary>traceback of job {g['jobs'][0]}</summary>"
                f"<pre>{escape(g['traceback'])}</pre></details>"
            )
        body.append(
            f'<tr><td><code title="{escape(g["type"])}">{escape(_short(g["type"]))}</code></td>'
            f"<td>{g['count']}</td>"
            f"<td>{message}{trace}</td><td>{jobs}</td></tr>"
        )
    return (
        "<h3>failures by error type</h3>"
        '<table class="failures"><thead><tr><th>error</th><th>count</th><th>message</th>'
        f"<th>jobs</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _notes(sweep: Dict[str, Any]) -> List[str]:
    """Why a plot the reader may look for is not there."""
    s, figures = sweep["summary"], sweep["figures"]
    notes = []
    if not any(f["section"] in ("params", "parcoords") for f in figures):
        if not sweep["params"]:
            notes.append("No parameter was swept: there is no metric-against-parameter plot.")
        elif s["best"] is None:
            notes.append(
                "No completed job has a numeric metric, so nothing is plotted against the "
                "parameters (to plot a returned key: zenspec report DIR --metric KEY)."
            )
    if s["sweeper"] == "grid" and s["jobs"] > 1:
        notes.append(
            "A grid's job order is the order of its axes, not a search's progress: "
            "no optimisation history."
        )
    return notes


def _section(sweep: Dict[str, Any]) -> str:
    i = sweep["index"]
    s = sweep["summary"]
    parts = [
        f'<section class="sweep" id="{sweep["id"]}"><h2>{escape(s["name"])}</h2>',
        f'<p class="meta"><code>{escape(s["dir"])}</code></p>',
        '<div class="table-tools">'
        f'<input type="search" id="filter-{i}" class="filter" placeholder="filter the jobs '
        f'(every word must appear in a row)" aria-label="filter the jobs">'
        f'<span id="shown-{i}" class="note"></span></div>',
        f'<div class="table-wrap"><table class="jobs" id="jobs-{i}"><thead></thead><tbody>'
        "</tbody></table></div>",
    ]
    for section, heading in _SECTIONS:
        figures = [f for f in sweep["figures"] if f["section"] == section]
        if figures:
            plots = "".join(
                f'<div class="plot{" wide" if f.get("wide") else ""}" id="{f["id"]}"></div>'
                for f in figures
            )
            parts.append(f'<h3>{heading}</h3><div class="plots">{plots}</div>')
    parts += [f'<p class="note">{escape(n)}</p>' for n in _notes(sweep)]
    parts.append(_failures(sweep))
    parts.append("</section>")
    return "".join(parts)


def render_page(
    title: str, sweeps: Sequence[Dict[str, Any]], meta: str, plotly_js: str, compressed: bool
) -> str:
    """The whole page: *sweeps* as built by :func:`zenspec.visual.report.sweep_data`.

    *plotly_js* is plotly.js itself, or (*compressed*) its gzip in base64.
    """
    data = {"title": title, "sweeps": list(sweeps)}
    nav = ""
    if len(sweeps) > 1:
        links = "".join(f'<a href="#{s["id"]}">{escape(s["summary"]["name"])}</a>' for s in sweeps)
        nav = f"<nav>{links}</nav>"
    if compressed:
        plotly = f'<script type="application/gzip-base64" id="{PLOTLY_GZ_ID}">{plotly_js}</script>'
    else:  # plotly.js holds no "</script"; were it ever to, "<\/" means the same in JS
        plotly = "<script>" + plotly_js.replace("</script", "<\\/script") + "</script>"
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="zenspec report">',
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
            f'<header><h1>{escape(title)}</h1><p class="meta">{escape(meta)}</p>{nav}</header>',
            '<div id="plot-error" role="alert"></div>',
            f'<section class="cards" id="summary">{"".join(_card(s) for s in sweeps)}</section>',
            *(_section(s) for s in sweeps),
            f'<script type="application/json" id="{DATA_ID}">{embed_json(data)}</script>\n',
            plotly,
            f"\n<script>{SCRIPT}</script></body></html>\n",
        ]
    )
