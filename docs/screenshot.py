"""Make docs/report.png: the report of a shipped spec's sweep, shot in headless Chromium.

Usage::

    python docs/screenshot.py docs/report.png
    python docs/screenshot.py /tmp/shot.png --spec specs/optuna_quadratic.toml --scroll 0

It runs the spec (``specs/adaptive.toml`` by default: a random search with pruned
learning curves, ~3 s on 2 joblib workers) into a temporary directory with
``python -m zenspec run``, writes its report with ``zenspec report``, opens it in the
system's chromium through its chromedriver (selenium; nothing is downloaded), waits
for the plots, scrolls to ``--scroll`` (a CSS selector, or 0 for the top) and saves
the window as a PNG. Needs ``zenspec[report]``, selenium, chromium and chromedriver.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_report(spec: Path, where: Path) -> Path:
    """Run *spec* into *where*/sweep and write its report; the report's path."""
    sweep, report = where / "sweep", where / "report.html"
    run = [sys.executable, "-m", "zenspec", "run", str(spec), "-q", f"hydra.sweep.dir={sweep}"]
    subprocess.run(run, check=True, cwd=where)
    subprocess.run(
        [sys.executable, "-m", "zenspec", "report", str(sweep), "-o", str(report)],
        check=True,
        cwd=where,
    )
    return report


def shoot(report: Path, output: Path, width: int, height: int, scroll: str, zoom: float) -> None:
    """Open *report* in headless chromium and save a *width* x *height* PNG to *output*."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        sys.exit("needs chromium and chromedriver on PATH")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--hide-scrollbars")
    # the page laid out 1/zoom times wider and taller, shot at width x height pixels
    options.add_argument(f"--force-device-scale-factor={zoom}")
    view = (round(width / zoom), round(height / zoom))
    options.add_argument(f"--window-size={view[0]},{view[1]}")
    options.binary_location = chromium
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        # the window's size counts a (headless) toolbar: grow it by what the page lacks
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        outer = driver.get_window_size()
        driver.set_window_size(
            outer["width"] + view[0] - inner[0], outer["height"] + view[1] - inner[1]
        )
        driver.get(report.resolve().as_uri())
        deadline = time.monotonic() + 60
        while not driver.execute_script("return document.documentElement.dataset.plots"):
            if time.monotonic() > deadline:
                sys.exit("the plots were not drawn within 60 s")
            time.sleep(0.1)
        if scroll != "0":
            driver.execute_script(
                "var el = document.querySelector(arguments[0]);"
                "if (el) window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 8);",
                scroll,
            )
        time.sleep(0.3)  # plotly's hover layers settle
        output.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(output))
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the PNG to write (docs/report.png)")
    parser.add_argument("--spec", type=Path, default=REPO / "specs" / "adaptive.toml")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--zoom", type=float, default=0.6, help="the page's scale in the shot")
    parser.add_argument(
        "--scroll", default="0", help="CSS selector to scroll to (e.g. '#sweep-0 h3'); 0: the top"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zenspec-screenshot-") as where:
        report = make_report(args.spec.resolve(), Path(where))
        shoot(report, args.output, args.width, args.height, args.scroll, args.zoom)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
