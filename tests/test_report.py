"""``zenspec report``: the HTML report's content, read back without a browser.

Real sweeps (a grid with a categorical param, Optuna, an adaptive sweep with learning
curves, a sweep whose jobs fail with HTML in their messages, a single run), then the
command as a user types it; the data the page embeds is parsed and held to the records.
The page itself, in a real headless Chromium, is tests/test_report_browser.py.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Dict, List

import pytest
from helpers.cli import run_cli

from zenspec import hydra_multirun, load_results
from zenspec.adaptive.report import job_metrics
from zenspec.errors import ZenspecError

pytest.importorskip("plotly", reason="the report needs the zenspec[report] extra (plotly)")

REPO = Path(__file__).resolve().parents[1]
QUIET = ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled", "hydra.output_subdir=null"]
INJECTED = "</script><script>window.pwned = 1</script><b>bold</b>"


def failing_task(cfg: Any) -> Dict[str, Any]:
    """Fails in two ways (HTML in the messages), returns NaN and inf metrics in two jobs."""
    if cfg.a % 3 == 0:
        raise ValueError(f"a={cfg.a} {INJECTED}")
    if cfg.a == 4:
        raise KeyError("<img src=x onerror=alert(1)>")
    loss = {2: math.nan, 5: math.inf}.get(cfg.a, float(cfg.a))
    return {"loss": loss, "said": f"{INJECTED} {cfg.a}"}


def _spec(where: Path, name: str, body: str) -> Path:
    path = where / f"{name}.toml"
    path.write_text(
        f'[experiment]\nname = "{name}"\ntask = "examples.quadratic:task"\n'
        f'search_path = ["{REPO}"]\nmetric = "loss"\n' + textwrap.dedent(body)
    )
    return path


def make_sweeps(where: Path) -> Dict[str, Path]:
    """The sweeps the report tests read (also used by the browser tests)."""
    from zenspec.cli import main

    out = {}
    grid = _spec(
        where,
        "grid",
        """
        description = "a grid: <x> against a categorical option"
        [config]
        x = 0.0
        y = 0.0
        optim = "sgd"
        [sweep]
        x = [0, 1, 2, 3]
        optim = ["sgd", "adam"]
        """,
    )
    out["grid"] = where / "sweeps" / "grid"
    assert main(["run", str(grid), "-q", f"hydra.sweep.dir={out['grid']}", *QUIET]) == 0
    out["optuna"] = where / "sweeps" / "optuna"
    argv = ["run", str(REPO / "specs" / "optuna_quadratic.toml"), "-q", "--tag", "team=<b>v</b>"]
    argv += ["--note", "first <i>try</i>", "hydra.sweeper.n_trials=15"]
    assert main([*argv, f"hydra.sweep.dir={out['optuna']}", *QUIET]) == 0
    out["adaptive"] = where / "adaptive"
    argv = ["run", str(REPO / "specs" / "adaptive.toml"), "-q", "step_s=0.002"]
    assert main([*argv, f"hydra.sweep.dir={out['adaptive']}", *QUIET]) == 0
    out["failing"] = where / "failing"
    hydra_multirun(
        {"a": 0, "label": "x"},
        failing_task,
        ["a=range(0,8)", "label='<b>l</b>'", f"hydra.sweep.dir={out['failing']}", *QUIET],
        metric="loss",
        on_error="continue",
        with_log_configuration=False,
    )
    single = _spec(where, "single", "[config]\nx = 1.0\ny = 0.0\n")
    out["single"] = where / "single"
    assert main(["run", str(single), "-q", f"hydra.run.dir={out['single']}", *QUIET]) == 0
    return out


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> Dict[str, Path]:
    pytest.importorskip("optuna", reason="the Optuna and adaptive sweeps need zenspec[optuna]")
    where = tmp_path_factory.mktemp("report-sweeps")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(where)
        return make_sweeps(where)


def embedded(text: str) -> Dict[str, Any]:
    """The JSON document the page embeds (as the page's script reads it)."""
    found = re.search(
        r'<script type="application/json" id="zenspec-data">(.*?)</script>', text, re.S
    )
    assert found, "the report embeds no data"
    return json.loads(found.group(1))


def report(capsys, *argv: Any) -> tuple:
    code, out, err = run_cli(capsys, "report", *argv, traceback_free=True)
    return code, out, err


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: List[tuple] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(text: str) -> List[tuple]:
    parser = _Tags()
    parser.feed(text)
    return parser.tags


# -- the command, offline ----------------------------------------------------------------------


def test_the_command_writes_one_offline_file(sweeps, tmp_path, capsys):
    out_file = tmp_path / "out" / "report.html"
    code, out, err = report(capsys, sweeps["optuna"], "-o", out_file)
    assert code == 0, err
    assert out.startswith(f"wrote {out_file} (") and "works offline" in out
    text = out_file.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    tags = _tags(text)
    assert not [t for t in tags if t[0] in ("link", "img", "iframe")]
    for tag, attrs in tags:
        for name in ("src", "href"):
            assert not str(attrs.get(name) or "").startswith(("http:", "https:", "//")), (
                tag,
                attrs,
            )
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert scripts and not any("src" in a for a in scripts)  # every script inline
    assert [a.get("id") for a in scripts if a.get("type")] == ["zenspec-data", "zenspec-plotly-gz"]
    assert list(out_file.parent.iterdir()) == [out_file]  # the temp file was renamed over it
    assert 1.5e6 < out_file.stat().st_size < 3e6  # gzipped plotly.js (~2.0 MB) and the data


def test_plain_plotly_is_inlined_as_a_script(sweeps, tmp_path):
    from zenspec.visual import build_report, write_report

    text = build_report([sweeps["single"]], compress=False)
    assert 'id="zenspec-plotly-gz"' not in text and "window.Plotly = Plotly" in text
    assert 4.5e6 < len(text) < 6e6
    path = write_report([sweeps["single"]], tmp_path / "r.html", title="mine")
    assert isinstance(path, Path) and path.read_text().count("<title>mine</title>") == 1


def test_importing_zenspec_does_not_import_plotly():
    code = "import sys, zenspec, zenspec.visual, zenspec.cli; assert 'plotly' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# -- the data, held to the records -------------------------------------------------------------


def test_the_table_holds_every_column_and_cell_of_the_records(sweeps, capsys, tmp_path):
    code, _, err = report(capsys, sweeps["grid"], "-o", tmp_path / "r.html")
    assert code == 0, err
    (sweep,) = embedded((tmp_path / "r.html").read_text())["sweeps"]
    results = load_results(sweeps["grid"])
    table = sweep["table"]
    assert table["columns"] == results.columns()
    assert table["columns"][:4] == ["job", "x", "optim", "status"]
    returned = results.value_names()
    assert table["rows"] == [
        [results.value(r, c, returned) for c in results.columns()] for r in results.rows
    ]
    best = results.best()
    assert best is not None and table["best"] == best.num
    summary = sweep["summary"]
    assert summary["best"] == {"job": best.num, "metric": best.metric, "params": best.params}
    assert summary["sweeper"] == "grid" and summary["counts"] == {"completed": 8}
    assert summary["description"] == "a grid: <x> against a categorical option"
    assert summary["dir"] == str(sweeps["grid"].resolve()) and summary["status"] == "completed"
    assert summary["started_at"] == results.manifest["started_at"]


def test_metric_against_params_a_scatter_for_numbers_a_box_for_options(sweeps):
    from zenspec.visual.report import sweep_data

    (sweep,) = sweep_data([sweeps["grid"]])
    figures = {f["title"]: f for f in sweep["figures"] if f["section"] == "params"}
    assert list(figures) == ["x", "optim"]
    results = load_results(sweeps["grid"])
    scatter, best = figures["x"]["data"]
    assert scatter["type"] == "scatter" and scatter["x"] == [r.params["x"] for r in results.rows]
    assert scatter["y"] == [r.metric for r in results.rows]
    assert best["customdata"] == [results.best().num]
    box = figures["optim"]["data"][0]
    assert box["type"] == "box" and box["boxpoints"] == "all"
    assert box["x"] == [r.params["optim"] for r in results.rows]
    assert figures["optim"]["layout"]["xaxis"]["categoryarray"] == ["sgd", "adam"]
    sections = [f["section"] for f in sweep["figures"]]
    assert "history" not in sections and "curves" not in sections  # a grid: no trial order
    assert sections.count("parcoords") == 1


def test_an_optuna_sweep_has_its_history_with_the_best_so_far(sweeps):
    from zenspec.visual.report import sweep_data

    (sweep,) = sweep_data([sweeps["optuna"]])
    results = load_results(sweeps["optuna"])
    (history,) = [f for f in sweep["figures"] if f["section"] == "history"]
    trials, best_so_far = history["data"]
    assert trials["x"] == [r.num for r in results.rows] == list(range(15))
    assert trials["y"] == [r.metric for r in results.rows]
    assert best_so_far["y"] == [min(trials["y"][: i + 1]) for i in range(15)]
    assert best_so_far["y"][-1] == results.best().metric
    (parcoords,) = [f for f in sweep["figures"] if f["section"] == "parcoords"]
    dims = parcoords["data"][0]["dimensions"]
    assert [d["label"] for d in dims] == ["x", "y", "z", "loss (min)"]
    assert dims[0]["values"] == [r.params["x"] for r in results.rows]
    summary = sweep["summary"]
    assert summary["sweeper"] == "optuna" and summary["tags"] == {"team": "<b>v</b>"}
    assert summary["note"] == "first <i>try</i>" and summary["metric"] == "loss"


def test_learning_curves_are_the_reported_streams(sweeps):
    from zenspec.visual.report import sweep_data

    (sweep,) = sweep_data([sweeps["adaptive"]])
    results = load_results(sweeps["adaptive"])
    (curves,) = [f for f in sweep["figures"] if f["section"] == "curves"]
    assert curves["title"] == "val_loss"
    by_status: Dict[str, List[Any]] = {}
    for row in results.rows:
        lines = job_metrics(sweeps["adaptive"], row.num)
        assert lines, f"job {row.num} reported nothing"
        kind = row.status if row.status in ("completed", "pruned") else "failed/other"
        points = by_status.setdefault(kind, [])
        points += [(line["step"], line["metrics"]["val_loss"], row.num) for line in lines]
        points.append((None, None, row.num))
    traces = {t["name"]: t for t in curves["data"]}
    for kind, points in by_status.items():
        trace = traces[kind]
        assert list(zip(trace["x"], trace["y"], trace["customdata"])) == points
    assert traces["best job"]["customdata"][0] == results.best().num
    assert "step" in sweep["table"]["columns"]  # the last reported step, as in `results`
    assert sweep["summary"]["sweeper"] == "random"


def test_failures_are_grouped_by_type_and_nan_and_inf_survive(sweeps, tmp_path):
    from zenspec.visual import write_report

    text = write_report([sweeps["failing"]], tmp_path / "r.html").read_text()
    (sweep,) = embedded(text)["sweeps"]
    groups = sweep["failures"]
    assert [(g["type"], g["count"], g["jobs"]) for g in groups] == [
        ("builtins.ValueError", 3, [0, 3, 6]),
        ("builtins.KeyError", 1, [4]),
    ]
    assert groups[0]["message"] == f"a=0 {INJECTED}" and groups[0]["messages"] == 3
    assert "Traceback" in groups[0]["traceback"] and "ValueError" in groups[0]["traceback"]
    columns = sweep["table"]["columns"]
    assert columns[-1] == "error"
    rows = {row[0]: dict(zip(columns, row)) for row in sweep["table"]["rows"]}
    assert rows[2]["metric"] == "nan" and rows[5]["metric"] == "inf"  # JSON has no NaN
    assert rows[0]["error"] == f"ValueError: a=0 {INJECTED}" and rows[1]["error"] is None
    assert rows[1]["label"] == "<b>l</b>" and rows[1]["said"] == f"{INJECTED} 1"
    scatter = next(f for f in sweep["figures"] if f["title"] == "a")["data"][0]
    assert scatter["x"] == [1, 7] and scatter["y"] == [1.0, 7.0]  # NaN, inf, failures left out
    assert sweep["summary"]["counts"] == {"completed": 4, "failed": 4}


def test_user_text_is_escaped_everywhere(sweeps, tmp_path):
    from zenspec.visual import write_report

    text = write_report([sweeps["failing"], sweeps["optuna"]], tmp_path / "r.html").read_text()
    assert INJECTED not in text and "<b>bold" not in text and "<img" not in text
    assert "<b>v</b>" not in text and "<i>try" not in text  # the tag and the note
    assert "a=0 &lt;/script&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text  # the KeyError's message
    assert '<span class="tag">team=&lt;b&gt;v&lt;/b&gt;</span>' in text
    # every "</script" closes a script element the page opened itself
    assert text.count("</script") == text.count("<script") == 3
    data = embedded(text)
    assert data["sweeps"][0]["failures"][0]["message"] == f"a=0 {INJECTED}"  # and reads back
    labels = next(f for f in data["sweeps"][0]["figures"] if f["title"] == "label")
    assert labels["data"][0]["x"] == ["&lt;b&gt;l&lt;/b&gt;"] * 2  # plotly reads <b> in its text


# -- several sweeps, odd sweeps ----------------------------------------------------------------


def test_a_directory_of_sweeps_gives_a_section_each(sweeps, tmp_path, capsys):
    code, _, err = report(
        capsys, sweeps["grid"].parent, sweeps["single"], "-o", tmp_path / "r.html"
    )
    assert code == 0, err
    text = (tmp_path / "r.html").read_text()
    data = embedded(text)
    assert [s["summary"]["name"] for s in data["sweeps"]] == ["grid", "optuna_quadratic", "single"]
    assert data["title"] == "zenspec report: 3 sweeps"
    for i in range(3):
        assert f'<section class="sweep" id="sweep-{i}">' in text
        assert f'<a href="#sweep-{i}">' in text  # its summary card and the navigation
    assert text.count('<article class="card">') == 3


def test_a_single_run_with_no_swept_param(sweeps):
    from zenspec.visual.report import sweep_data

    (sweep,) = sweep_data([sweeps["single"]])
    assert sweep["summary"]["sweeper"] == "run" and sweep["summary"]["jobs"] == 1
    assert sweep["params"] == [] and sweep["figures"] == []
    assert sweep["table"]["rows"][0][:3] == [0, "completed", 10.0]  # (1 - 2)^2 + (0 + 3)^2
    from zenspec.visual.page import _notes

    assert _notes(sweep) == ["No parameter was swept: there is no metric-against-parameter plot."]


def test_another_metric_and_direction(sweeps, capsys, tmp_path):
    argv = [sweeps["grid"], "-o", tmp_path / "r.html", "--metric", "distance", "--maximize"]
    code, _, err = report(capsys, *argv)
    assert code == 0, err
    (sweep,) = embedded((tmp_path / "r.html").read_text())["sweeps"]
    results = load_results(sweeps["grid"])
    distances = [r.return_value["distance"] for r in results.rows]
    metric = sweep["table"]["columns"].index("metric")
    assert [row[metric] for row in sweep["table"]["rows"]] == distances
    assert sweep["summary"]["metric"] == "distance" and sweep["summary"]["direction"] == "maximize"
    assert sweep["summary"]["best"]["metric"] == max(distances)


def test_a_sweep_without_a_metric_says_so(sweeps, tmp_path):
    from zenspec.visual import build_report

    text = build_report([sweeps["grid"]], metric="nosuch")
    assert "No completed job has a numeric metric" in text
    (sweep,) = embedded(text)["sweeps"]
    assert sweep["summary"]["best"] is None
    assert not [f for f in sweep["figures"] if f["section"] in ("params", "parcoords")]


# -- errors ------------------------------------------------------------------------------------


def test_a_directory_without_sweeps_is_refused(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, err = report(capsys, tmp_path / "empty", "-o", tmp_path / "r.html")
    assert code == 2 and out == ""
    assert "holds no zenspec sweep" in err and "Fix: pass a sweep directory" in err
    code, _, err = report(capsys, tmp_path / "nosuch", "-o", tmp_path / "r.html")
    assert code == 2 and "no such directory" in err
    assert not (tmp_path / "r.html").exists()


def test_without_plotly_the_error_says_how_to_get_it(sweeps, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)
    code, out, err = report(capsys, sweeps["grid"], "-o", tmp_path / "r.html")
    assert code == 2 and out == "" and not (tmp_path / "r.html").exists()
    assert "needs plotly" in err and "pip install 'zenspec[report]'" in err
    from zenspec.visual import build_report

    with pytest.raises(ZenspecError, match="needs plotly"):
        build_report([sweeps["grid"]])


def test_an_output_that_cannot_be_written_is_a_storage_error(sweeps, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code, _, err = report(capsys, sweeps["grid"], "-o", tmp_path / "file" / "r.html")
    assert code == 74 and "could not write the report" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_the_embedded_json_cannot_end_its_script_element_or_carry_nan():
    from zenspec.visual.page import embed_json

    text = embed_json({"a": [math.nan, 1.5, {"b": -math.inf}], "s": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": [None, 1.5, {"b": None}], "s": "</script><!-- & \u2028"}
