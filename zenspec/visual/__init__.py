"""HTML reports of sweeps: ``zenspec report SWEEP_DIR... -o report.html``.

One self-contained file that works offline (plotly.js inlined, no CDN): per sweep
a summary, a sortable and filterable table of every job, the metric against each
swept parameter, parallel coordinates, the optimisation history of random/Optuna
searches, learning curves of reported metrics, and the failures grouped by error
type. Needs the ``zenspec[report]`` extra (plotly), imported only when a report
is built.

Examples
--------
>>> from zenspec.visual import write_report
>>> write_report(["multirun/2026-11-30/10-00-00"], "report.html")  # doctest: +SKIP
PosixPath('report.html')
"""

from __future__ import annotations

from zenspec.visual.report import build_report, write_report

__all__ = ["build_report", "write_report"]
