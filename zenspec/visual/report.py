"""``zenspec report``: build the HTML report of sweeps and write it atomically.

plotly is imported here only (never by ``import zenspec``), for the plotly.js it
bundles; the figures themselves are plain dicts (:mod:`zenspec.visual.figures`).
By default plotly.js goes in gzipped and base64-encoded (~2.0 MB instead of
~4.8 MB), unpacked by the page with the browser's ``DecompressionStream``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import gzip
import importlib
import os
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from zenspec.errors import StorageError, ZenspecError

__all__ = ["build_report", "plotly_bundle", "sweep_data", "write_report"]

PathLike = Union[str, "os.PathLike[str]"]

#: (plotly version, compressed) -> the text inlined; packing it takes ~0.15 s, once
_BUNDLES: Dict[Tuple[str, bool], str] = {}


def plotly_bundle(compress: bool = True) -> str:
    """plotly.js as inlined in a report: the script itself, or its gzip in base64.

    Raises
    ------
    ZenspecError
        plotly is not installed (the ``zenspec[report]`` extra).
    """
    try:  # by name: plotly ships no type information, and mypy need not have it installed
        plotly = importlib.import_module("plotly")
        offline = importlib.import_module("plotly.offline")
    except ImportError as e:
        raise ZenspecError(
            "zenspec report needs plotly (the plotting library it inlines in the page), "
            "which is not installed.",
            hint="Fix: pip install 'zenspec[report]' (or pip install plotly).",
        ) from e
    key = (str(getattr(plotly, "__version__", "")), compress)
    if key not in _BUNDLES:
        script = str(offline.get_plotlyjs())
        if compress:  # mtime=0: the same report bytes for the same records
            packed = gzip.compress(script.encode(), compresslevel=6, mtime=0)
            script = base64.b64encode(packed).decode("ascii")
        _BUNDLES[key] = script
    return _BUNDLES[key]


def _unique_labels(sweeps: List[Any]) -> None:
    """Sweeps sharing a name are told apart by their directory's last parts."""
    seen: Dict[str, int] = {}
    for sweep in sweeps:
        seen[sweep.label] = seen.get(sweep.label, 0) + 1
    for sweep in sweeps:
        if seen[sweep.label] > 1:
            tail = "/".join(sweep.results.root.resolve().parts[-2:])
            sweep.label = f"{sweep.label} ({tail})"


def sweep_data(
    sweep_dirs: Sequence[PathLike],
    *,
    metric: Optional[str] = None,
    maximize: Optional[bool] = None,
) -> List[Dict[str, Any]]:
    """What the report embeds for each sweep: summary, table, failures, figures (JSON-ready).

    Each item: ``{"id", "index", "summary", "params", "table", "failures", "figures"}``.
    """
    from zenspec.visual.data import failures, find_sweeps, load_sweep, summary, table
    from zenspec.visual.figures import sweep_figures

    sweeps = [load_sweep(p, metric, maximize) for p in find_sweeps(sweep_dirs)]
    _unique_labels(sweeps)
    out = []
    for i, sweep in enumerate(sweeps):
        figures = sweep_figures(sweep)
        for k, figure in enumerate(figures):
            figure["id"] = f"fig-{i}-{k}"
        out.append(
            {
                "id": f"sweep-{i}",
                "index": i,
                "summary": summary(sweep),
                "params": sweep.results.param_names(),
                "table": table(sweep),
                "failures": failures(sweep),
                "figures": figures,
            }
        )
    return out


def build_report(
    sweep_dirs: Sequence[PathLike],
    *,
    metric: Optional[str] = None,
    maximize: Optional[bool] = None,
    title: Optional[str] = None,
    compress: bool = True,
) -> str:
    """The report of *sweep_dirs* as one self-contained HTML page (its text).

    Parameters
    ----------
    sweep_dirs : sequence of path
        Sweep directories (holding ``.zenspec/manifest.json``), or directories of them.
    metric : str, optional
        Judge and plot the jobs by this key of their return values.
    maximize : bool, optional
        The direction the best job is chosen by; None: each sweep's own.
    title : str, optional
        The page's title; by default the sweep's name (or how many sweeps).
    compress : bool, default True
        Inline plotly.js gzipped (~2.0 MB; unpacked by the browser) or as it is (~4.8 MB).

    Raises
    ------
    ZenspecError
        A directory holds no sweep, or plotly is not installed.
    """
    from zenspec.visual.page import render_page

    script = plotly_bundle(compress)
    sweeps = sweep_data(sweep_dirs, metric=metric, maximize=maximize)
    if title is None:
        names = [s["summary"]["name"] for s in sweeps]
        title = (
            f"zenspec report: {names[0]}"
            if len(names) == 1
            else f"zenspec report: {len(names)} sweeps"
        )
    from zenspec import __version__

    now = _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")
    meta = f"made {now.replace('T', ' ')} by zenspec {__version__} from {len(sweeps)} sweep(s)"
    return render_page(title, sweeps, meta, script, compress)


def write_report(
    sweep_dirs: Sequence[PathLike],
    output: PathLike,
    *,
    metric: Optional[str] = None,
    maximize: Optional[bool] = None,
    title: Optional[str] = None,
    compress: bool = True,
) -> Path:
    """Write :func:`build_report`'s page to *output* atomically; its path.

    The page goes to a temp file beside *output*, then is renamed over it: a reader
    (a browser reloading it) never sees half a report. Raises :class:`StorageError`
    when *output* cannot be written.
    """
    text = build_report(
        sweep_dirs, metric=metric, maximize=maximize, title=title, compress=compress
    )
    path = Path(output)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        # os.open: created with 0o666 less the umask, as any file the user writes
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise StorageError(
            f"could not write the report {path}: {e.strerror or e}.",
            hint="Fix: pass -o a path in a directory you can write to.",
        ) from e
    return path
