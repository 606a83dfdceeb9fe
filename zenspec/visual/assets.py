"""The report page's stylesheet and script, inlined into every report (no file, no CDN).

The script reads the data the page embeds (``<script type="application/json"
id="zenspec-data">``), builds each sweep's job table (vanilla JS: a click on a
header sorts, numbers numerically and missing cells last in either direction;
the filter box keeps the rows holding every word typed), then loads plotly.js
(unpacking it first when the report carries it gzipped) and draws the figures.
It writes text with ``textContent`` only: nothing from the records is parsed as
HTML. ``<html data-plots="ready">`` (or ``"error"``) says when drawing is over.
"""

from __future__ import annotations

__all__ = ["SCRIPT", "STYLE"]

STYLE = """
:root { --fg: #1d232a; --muted: #5b6672; --line: #d9dee3; --bg: #f6f7f9; --accent: #2a63b8; }
* { box-sizing: border-box; }
body { margin: 0; padding: 0 24px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  sans-serif; color: var(--fg); background: #fff; }
header { padding: 18px 0 6px; border-bottom: 1px solid var(--line); margin-bottom: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; padding-top: 12px; border-top: 2px solid var(--line); }
h3 { font-size: 15px; margin: 22px 0 8px; color: var(--muted); }
.meta, .note { color: var(--muted); }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
nav a { margin-right: 14px; }
a { color: var(--accent); }
.cards { display: flex; flex-wrap: wrap; gap: 14px; }
.card { flex: 1 1 320px; max-width: 560px; border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 14px; background: var(--bg); }
.card h3 { margin: 2px 0 6px; color: var(--fg); font-size: 16px; }
.card dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; margin: 6px 0; }
.card dt { color: var(--muted); }
.card dd { margin: 0; overflow-wrap: anywhere; }
.desc { margin: 0 0 6px; white-space: pre-wrap; }
.tag { display: inline-block; padding: 0 7px; margin: 0 4px 2px 0; border-radius: 10px;
  background: #e3ebf7; font-size: 12px; }
.status-completed { color: #1a7f37; } .status-failed, .status-interrupted { color: #c62828; }
.table-tools { display: flex; gap: 12px; align-items: center; margin: 8px 0; }
.table-tools input { padding: 5px 8px; width: 320px; max-width: 60vw; border: 1px solid var(--line);
  border-radius: 5px; font: inherit; }
.table-wrap { max-height: 520px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
table.jobs th, table.jobs td, table.failures th, table.failures td { padding: 3px 9px;
  border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
table.jobs td { font-variant-numeric: tabular-nums; max-width: 420px; overflow: hidden;
  text-overflow: ellipsis; }
table.jobs th { position: sticky; top: 0; background: var(--bg); cursor: pointer;
  user-select: none; }
table.jobs th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
table.jobs th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
table.jobs tr.best td { background: #fff6d6; font-weight: 600; }
table.jobs tr.failed td { color: #c62828; }
table.failures td { white-space: normal; vertical-align: top; }
table.failures pre { margin: 4px 0; max-height: 320px; overflow: auto; background: var(--bg);
  padding: 8px; white-space: pre-wrap; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
.plot { min-height: 320px; border: 1px solid var(--line); border-radius: 6px; }
.plot.wide { grid-column: 1 / -1; }
.plot.note { min-height: 0; padding: 10px; }
#plot-error { display: none; padding: 10px 14px; border: 1px solid #c62828; border-radius: 6px;
  color: #c62828; margin: 12px 0; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("zenspec-data").textContent);

  function show(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") {
      return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
    }
    return String(v);
  }

  // what a cell sorts as: [0, number] | [1, text] | null (missing: last either way)
  function key(v) {
    if (v === null || v === undefined || v === "" || v === "nan") return null;
    if (typeof v === "number") return [0, v];
    if (v === "inf") return [0, Infinity];
    if (v === "-inf") return [0, -Infinity];
    return [1, String(v).toLowerCase()];
  }

  function compare(a, b, dir) {
    if (a === null || b === null) return a === b ? 0 : (a === null ? 1 : -1);
    if (a[0] !== b[0]) return a[0] - b[0];
    if (a[1] === b[1]) return 0;
    return (a[1] < b[1] ? -1 : 1) * dir;
  }

  function buildTable(sweep, index) {
    var table = sweep.table, cols = table.columns, rows = table.rows;
    var el = document.getElementById("jobs-" + index);
    var filter = document.getElementById("filter-" + index);
    var shown = document.getElementById("shown-" + index);
    var statusCol = cols.indexOf("status");
    var head = document.createElement("tr");
    cols.forEach(function (name, c) {
      var th = document.createElement("th");
      th.textContent = name;
      th.title = "sort by " + name;
      th.setAttribute("data-col", String(c));
      th.tabIndex = 0;
      head.appendChild(th);
    });
    el.tHead.appendChild(head);
    var body = el.tBodies[0];
    var trs = rows.map(function (row) {
      var tr = document.createElement("tr");
      var words = [];
      row.forEach(function (v) {
        var td = document.createElement("td");
        var t = show(v);
        td.textContent = t;
        if (typeof v === "number" && t !== String(v)) td.title = String(v);
        else if (t.length > 60) td.title = t;
        tr.appendChild(td);
        words.push(t.toLowerCase());
      });
      if (row[0] === table.best) tr.className = "best";
      else if (statusCol >= 0 && row[statusCol] === "failed") tr.className = "failed";
      tr.__text = words.join(" \u0000 ");
      body.appendChild(tr);
      return tr;
    });
    var state = { col: -1, dir: 1 };
    function sortBy(c) {
      state.dir = state.col === c ? -state.dir : 1;
      state.col = c;
      var keys = rows.map(function (row) { return key(row[c]); });
      var order = rows.map(function (_, i) { return i; });
      order.sort(function (i, j) { return compare(keys[i], keys[j], state.dir) || i - j; });
      var frag = document.createDocumentFragment();
      order.forEach(function (i) { frag.appendChild(trs[i]); });
      body.appendChild(frag);
      Array.prototype.forEach.call(head.children, function (th, k) {
        if (k === c) th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
        else th.removeAttribute("aria-sort");
      });
    }
    head.addEventListener("click", function (e) {
      var th = e.target.closest("th");
      if (th) sortBy(Number(th.getAttribute("data-col")));
    });
    head.addEventListener("keydown", function (e) {
      var th = e.target.closest("th");
      if (th && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        sortBy(Number(th.getAttribute("data-col")));
      }
    });
    function count(n) { shown.textContent = n + " of " + rows.length + " job(s)"; }
    filter.addEventListener("input", function () {
      var terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var n = 0;
      trs.forEach(function (tr) {
        var keep = terms.every(function (t) { return tr.__text.indexOf(t) >= 0; });
        tr.hidden = !keep;
        if (keep) n += 1;
      });
      count(n);
    });
    count(rows.length);
  }

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    var packed = document.getElementById("zenspec-plotly-gz");
    if (!packed) return Promise.reject(new Error("plotly.js is missing from this report"));
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot unpack the plotting library " +
        "(it needs DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or later); " +
        "the summary and the table above work without it"));
    }
    var bin = atob(packed.textContent.trim());
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(function (code) {
      var script = document.createElement("script");
      script.textContent = code;  // an inline script runs as it is inserted, in global scope
      document.head.appendChild(script);
      if (!window.Plotly) throw new Error("plotly.js did not load");
      return window.Plotly;
    });
  }

  function webgl() {
    try {
      var canvas = document.createElement("canvas");
      return !!(canvas.getContext("webgl") || canvas.getContext("experimental-webgl"));
    } catch (e) {
      return false;
    }
  }

  function draw(Plotly) {
    var config = { responsive: true, displaylogo: false, scrollZoom: false };
    var gl = webgl();
    var chain = Promise.resolve();
    DATA.sweeps.forEach(function (sweep) {
      sweep.figures.forEach(function (fig) {
        chain = chain.then(function () {
          var el = document.getElementById(fig.id);
          if (fig.data.length && fig.data[0].type === "parcoords" && !gl) {
            el.className += " note";
            el.textContent = "Parallel coordinates need WebGL, which this browser has off.";
            return null;
          }
          return Plotly.newPlot(el, fig.data, fig.layout, config);
        });
      });
    });
    return chain;
  }

  function fail(err) {
    var box = document.getElementById("plot-error");
    box.textContent = "The plots could not be drawn: " + (err && err.message ? err.message : err);
    box.style.display = "block";
    document.documentElement.setAttribute("data-plots", "error");
  }

  DATA.sweeps.forEach(buildTable);
  loadPlotly().then(draw).then(function () {
    document.documentElement.setAttribute("data-plots", "ready");
  }, fail);
})();
"""
