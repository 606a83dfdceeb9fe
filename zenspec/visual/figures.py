"""The report's plots as plotly figure dicts (``{"data": [...], "layout": {...}}``).

Plain dicts, drawn by ``Plotly.newPlot`` in the page: building
``plotly.graph_objects`` figures would validate every property in Python, which
costs more than the rest of a 1,000-job report. Every string plotly shows is
HTML-escaped (plotly reads ``<b>``, ``<br>`` and ``<a>`` in its text) and every
number is finite or ``null`` (JSON has no NaN).
"""

from __future__ import annotations

import html
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from zenspec.records.table import JobRow
from zenspec.visual.data import Sweep, plot_number

__all__ = ["CURVE_KEYS", "sweep_figures"]

Figure = Dict[str, Any]

#: at most this many reported metrics get a learning-curve plot each (the sweep's metric first)
CURVE_KEYS = 4

_STATUS_COLOURS = {"completed": "#1f77b4", "pruned": "#ff7f0e", "failed/other": "#d62728"}
#: above the plot area, right, under the mode bar
_LEGEND = {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"}
_BEST = {"color": "#d62728", "size": 13, "symbol": "star", "line": {"width": 1, "color": "#000"}}


def text(value: Any) -> str:
    """*value* as text plotly shows literally (its pseudo-HTML escaped)."""
    return html.escape(str(value), quote=False)


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as it was written in the override
    return "null" if value is None else str(value)


def _layout(title: str, x: str, y: str, height: int = 320) -> Dict[str, Any]:
    return {
        # left: the mode bar (zoom, save as PNG) takes the top right corner
        "title": {"text": text(title), "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "xaxis": {"title": {"text": text(x)}, "automargin": True},
        "yaxis": {"title": {"text": text(y)}, "automargin": True},
        "margin": {"l": 60, "r": 20, "t": 44, "b": 50},
        "height": height,
        "hovermode": "closest",
        "showlegend": False,
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
    }


def _scored(sweep: Sweep) -> List[Tuple[JobRow, float]]:
    """The completed jobs with a finite metric, in job order."""
    out = []
    for row in sweep.results.rows:
        value = plot_number(row.metric) if row.status == "completed" else None
        if value is not None:
            out.append((row, value))
    return out


def _numeric(values: Sequence[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in present
    )


def _log_scale(sweep: Sweep, name: str, values: Sequence[Any]) -> bool:
    """Whether *name*'s axis reads best in log: as declared (``log = true``), else guessed.

    The guess: positive values over two decades or more whose median sits in the
    lower part of their log range, as log-spaced values (``lr=1e-4,1e-3,...``) do;
    a uniform ``[0.001, 0.5]`` spans as many decades but crowds at its top.
    """
    if name in sweep.log_axes:
        return sweep.log_axes[name]
    present = sorted(v for v in values if v is not None)
    if not present or present[0] <= 0 or present[-1] / present[0] < 100:
        return False
    low, high = math.log(present[0]), math.log(present[-1])
    return (math.log(present[len(present) // 2]) - low) / (high - low) < 0.75


def _metric_title(sweep: Sweep) -> str:
    arrow = "max" if sweep.maximize else "min"
    return f"{sweep.metric or 'metric'} ({arrow})"


def _hover(name: str) -> str:
    return f"job %{{customdata}}<br>{text(name)}=%{{x}}<br>metric=%{{y}}<extra></extra>"


def _param_figure(sweep: Sweep, name: str, scored: List[Tuple[JobRow, float]]) -> Figure:
    """The metric against one param: a scatter (numbers) or a box with every point (options)."""
    values = [row.params.get(name) for row, _ in scored]
    ys = [y for _, y in scored]
    nums = [row.num for row, _ in scored]
    layout = _layout(f"{_metric_title(sweep)} vs {name}", name, _metric_title(sweep))
    best = sweep.best
    if _numeric(values):
        keep = [i for i, v in enumerate(values) if v is not None]
        xs = [values[i] for i in keep]
        marker: Dict[str, Any] = {"size": 7, "opacity": 0.8, "color": _STATUS_COLOURS["completed"]}
        if sweep.optimising:  # as Optuna's slice plot: the colour says when it was tried
            # plotly.js's Blues runs dark to light: reversed, the latest trials are darkest
            marker.update(color=[nums[i] for i in keep], colorscale="Blues", reversescale=True)
            marker["showscale"] = True
            marker["colorbar"] = {"title": {"text": "trial"}, "thickness": 12}
        data: List[Dict[str, Any]] = [
            {
                "type": "scatter",
                "mode": "markers",
                "x": xs,
                "y": [ys[i] for i in keep],
                "customdata": [nums[i] for i in keep],
                "marker": marker,
                "hovertemplate": _hover(name),
            }
        ]
        space = [r.params.get(name) for r in sweep.results.rows]  # not only the scored few
        if _numeric(space) and _log_scale(sweep, name, space):
            layout["xaxis"]["type"] = "log"
        best_x = None if best is None else best.params.get(name)
    else:
        labels = [text(_label(v)) for v in values]
        order = list(dict.fromkeys(labels))  # the options in the order the jobs had them
        data = [
            {
                "type": "box",
                "x": labels,
                "y": ys,
                "customdata": nums,
                "boxpoints": "all",
                "jitter": 0.4,
                "pointpos": 0,
                "marker": {"size": 6, "opacity": 0.8},
                "line": {"width": 1},
                "hovertemplate": _hover(name),
            }
        ]
        layout["xaxis"].update(type="category", categoryorder="array", categoryarray=order)
        best_x = None if best is None else text(_label(best.params.get(name)))
    if best is not None and plot_number(best.metric) is not None and best_x is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [best_x],
                "y": [best.metric],
                "customdata": [best.num],
                "marker": _BEST,
                "hovertemplate": "best: " + _hover(name),
            }
        )
    return {"section": "params", "title": name, "data": data, "layout": layout}


def _parcoords(sweep: Sweep, scored: List[Tuple[JobRow, float]]) -> Optional[Figure]:
    """Parallel coordinates: one axis per param, the metric last, lines coloured by it."""
    names = sweep.results.param_names()
    rows = [(r, y) for r, y in scored if all(r.params.get(n) is not None for n in names)]
    if not names or not rows:
        return None
    dimensions = []
    for name in names:
        values = [r.params[name] for r, _ in rows]
        if _numeric(values):
            if _log_scale(sweep, name, values):  # parcoords has no log axis: plot log10 and say so
                values = [math.log10(v) for v in values]
                name = f"log10({name})"
            dimensions.append({"label": text(name), "values": values})
        else:
            labels = [_label(v) for v in values]
            order = list(dict.fromkeys(labels))
            index = {label: i for i, label in enumerate(order)}
            dimensions.append(
                {
                    "label": text(name),
                    "values": [index[label] for label in labels],
                    "tickvals": list(range(len(order))),
                    "ticktext": [text(label) for label in order],
                }
            )
    metrics = [y for _, y in rows]
    dimensions.append({"label": text(_metric_title(sweep)), "values": metrics})
    line = {
        "color": metrics,
        "colorscale": "Viridis",
        # the best jobs' lines in the bright end of the scale, whichever the direction
        "reversescale": not sweep.maximize,
        "showscale": True,
        "colorbar": {"title": {"text": text(sweep.metric or "metric")}, "thickness": 12},
    }
    layout = _layout("", "", "", height=420)  # the section's heading is its title
    layout["margin"] = {"l": 80, "r": 80, "t": 60, "b": 30}
    del layout["xaxis"], layout["yaxis"], layout["hovermode"]
    return {
        "section": "parcoords",
        "title": "parallel coordinates",
        "data": [{"type": "parcoords", "dimensions": dimensions, "line": line}],
        "layout": layout,
        "wide": True,
    }


def _history(sweep: Sweep, scored: List[Tuple[JobRow, float]]) -> Optional[Figure]:
    """Each trial's metric in trial order, and the best so far (random search, Optuna)."""
    if not sweep.optimising or not scored:
        return None
    nums = [row.num for row, _ in scored]
    ys = [y for _, y in scored]
    best_so_far: List[float] = []
    for y in ys:
        if not best_so_far:
            best_so_far.append(y)
        else:
            best_so_far.append(
                max(best_so_far[-1], y) if sweep.maximize else min(best_so_far[-1], y)
            )
    layout = _layout("optimisation history", "trial (job number)", _metric_title(sweep), 380)
    layout["showlegend"] = True
    layout["legend"] = dict(_LEGEND)
    layout["margin"]["t"] = 64
    if ys and min(ys) > 0 and max(ys) / min(ys) >= 1000:  # a search's first trials dwarf the rest
        layout["yaxis"]["type"] = "log"
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "trial",
            "x": nums,
            "y": ys,
            "marker": {"size": 6, "opacity": 0.7, "color": _STATUS_COLOURS["completed"]},
            "hovertemplate": "job %{x}<br>metric=%{y}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "best so far",
            "x": nums,
            "y": best_so_far,
            "line": {"shape": "hv", "color": _STATUS_COLOURS["failed/other"], "width": 2},
            "hovertemplate": "after job %{x}<br>best=%{y}<extra></extra>",
        },
    ]
    return {
        "section": "history",
        "title": "optimisation history",
        "data": data,
        "layout": layout,
        "wide": True,
    }


def curve_keys(sweep: Sweep) -> List[str]:
    """The reported metrics a curve is drawn for: the sweep's metric first, at most CURVE_KEYS."""
    keys: Dict[str, None] = {}
    for lines in sweep.curves.values():
        for line in lines:
            for key, value in line["metrics"].items():
                if plot_number(value) is not None:
                    keys.setdefault(str(key), None)
    ordered = sorted(keys, key=lambda k: k != sweep.metric)  # stable: first-seen otherwise
    return ordered[:CURVE_KEYS]


def _curves(sweep: Sweep, key: str) -> Figure:
    """Every job's reported *key* against its step: one trace per status, jobs split by nulls.

    One trace per job would be ~1,000 SVG paths, slow to draw and to hover; a trace
    per status with ``null`` between jobs draws them all as one path each.
    """
    status = {row.num: row.status for row in sweep.results.rows}
    best = sweep.best
    groups: Dict[str, Dict[str, List[Any]]] = {}
    highlight: Optional[Dict[str, List[Any]]] = None
    for num, lines in sweep.curves.items():
        kind = status.get(num, "failed/other")
        if kind not in ("completed", "pruned"):
            kind = "failed/other"
        group = groups.setdefault(kind, {"x": [], "y": [], "c": []})
        xs = [line["step"] for line in lines]
        ys = [plot_number(line["metrics"].get(key)) for line in lines]
        group["x"] += [*xs, None]
        group["y"] += [*ys, None]
        group["c"] += [num] * (len(xs) + 1)
        if best is not None and num == best.num:
            highlight = {"x": xs, "y": ys, "c": [num] * len(xs)}
    data = []
    for kind, group in sorted(groups.items()):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": kind,
                "x": group["x"],
                "y": group["y"],
                "customdata": group["c"],
                "line": {"width": 1, "color": _STATUS_COLOURS[kind]},
                "opacity": 0.55,
                "hovertemplate": "job %{customdata}<br>step %{x}<br>"
                + text(key)
                + "=%{y}<extra>"
                + kind
                + "</extra>",
            }
        )
    if highlight is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "best job",
                "x": highlight["x"],
                "y": highlight["y"],
                "customdata": highlight["c"],
                "line": {"width": 3, "color": "#000"},
                "hovertemplate": "best: job %{customdata}<br>step %{x}<br>%{y}<extra></extra>",
            }
        )
    layout = _layout(f"learning curves: {key}", "step", key, 380)
    layout["showlegend"] = True
    layout["legend"] = dict(_LEGEND)
    layout["margin"]["t"] = 64
    return {"section": "curves", "title": key, "data": data, "layout": layout, "wide": True}


def sweep_figures(sweep: Sweep) -> List[Figure]:
    """Every plot of *sweep*, in the order the page shows them.

    Each figure is ``{"section", "title", "data", "layout"}`` (``"wide": True`` for the
    full-width ones); sections: ``params``, ``history``, ``curves``, ``parcoords``.
    """
    scored = _scored(sweep)
    figures: List[Figure] = []
    if scored:
        figures += [_param_figure(sweep, n, scored) for n in sweep.results.param_names()]
    history = _history(sweep, scored)
    figures += [history] if history is not None else []
    figures += [_curves(sweep, key) for key in curve_keys(sweep)]
    parcoords = _parcoords(sweep, scored)
    figures += [parcoords] if parcoords is not None else []
    return figures
