#!/usr/bin/env python3
"""Renders `layerwatch report` output in headless Chromium and checks what the page shows.

Writes a sample run (write_sample_run), makes its report with the command, loads it in
Chromium (--headless --no-sandbox --disable-gpu --dump-dom) and checks the rendered DOM: every
expected chart is there with its series, rows and labels, the page's own script ran (it marks
<body data-ready>) and reported no error. A copy with a broken script must be caught, so the
error check itself is tested. Also takes a screenshot of the whole page (WORK_DIR/report.png). Exit 77 (skipped) when Chromium is not installed;
scripts/test.sh installs it.

    render_report_test.py LAYERWATCH WRITE_SAMPLE_RUN WORK_DIR
"""
import html.parser
import os
import re
import shutil
import subprocess
import sys


class Dom(html.parser.HTMLParser):
    """Collects the elements the checks need from a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.charts = []        # attrs of every <svg class="chart">
        self.body = {}
        self.errors_text = None
        self.frozen_bars = 0
        self.text = []
        self._in_errors = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "chart" in a.get("class", "").split():
            self.charts.append(a)
        elif tag == "body":
            self.body = a
        elif tag == "div" and a.get("id") == "script-errors":
            self._in_errors = True
            self.errors_text = ""
        elif tag == "rect" and "frozen" in a.get("class", "").split():
            self.frozen_bars += 1

    def handle_endtag(self, tag):
        if tag == "div":
            self._in_errors = False

    def handle_data(self, data):
        if self._in_errors:
            self.errors_text += data
        self.text.append(data)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def render(chromium, page):
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--user-data-dir=" + os.path.join(os.path.dirname(page), "chromium-profile"),
         "--dump-dom", "file://" + os.path.abspath(page)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Dom()
    dom.feed(result.stdout)
    return dom


def screenshot(chromium, page, png, height):
    """The rendered page as a PNG (the picture in docs/ comes from here)."""
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--hide-scrollbars", "--user-data-dir=" + os.path.join(os.path.dirname(page), "shot"),
         f"--window-size=1150,{height}", "--screenshot=" + png, "file://" + os.path.abspath(page)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    with open(png, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000, (png, len(data))


def main():
    layerwatch, writer, work = sys.argv[1:4]
    chromium = find_chromium()
    if not chromium:
        print("SKIP: chromium is not installed (scripts/test.sh installs it)")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    run_dir = os.path.join(work, "run")
    subprocess.run([writer, run_dir], check=True)
    page = os.path.join(work, "report.html")
    made = subprocess.run([layerwatch, "report", run_dir, "-o", page],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert "wrote" in made.stdout, made.stdout

    source = open(page, encoding="utf-8").read()
    # Self-contained: nothing is fetched (the SVG namespace URI is a name, not a fetch).
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", source), "external fetch"
    assert "<link" not in source and "@import" not in source and "url(" not in source

    dom = render(chromium, page)
    assert dom.errors_text == "", f"script errors: {dom.errors_text!r}"
    kinds = [c.get("data-chart") for c in dom.charts]
    assert dom.body.get("data-ready") == str(len(dom.charts)), (dom.body, len(dom.charts))
    for kind in ("convergence", "vs-first", "freeze-timeline", "learning-dynamics",
                 "layer-matrix", "probe-accuracy", "probe-selectivity"):
        assert kinds.count(kind) == 1, (kind, kinds)
    assert kinds.count("class-logit") == 3, kinds  # one per probed layer
    by_kind = {c["data-chart"]: c for c in dom.charts}
    assert by_kind["convergence"]["data-series"] == "4", by_kind["convergence"]
    assert by_kind["freeze-timeline"]["data-rows"] == "4"
    assert by_kind["learning-dynamics"]["data-rows"] == "4"
    assert by_kind["learning-dynamics"]["data-columns"] == "5"
    assert by_kind["layer-matrix"]["data-rows"] == "4"
    assert by_kind["probe-accuracy"]["data-series"] == "3", by_kind["probe-accuracy"]
    assert by_kind["class-logit"]["data-rows"] == "4", by_kind["class-logit"]  # classes
    assert by_kind["class-logit"]["data-columns"] == "5", by_kind["class-logit"]  # passes
    assert dom.frozen_bars == 2, dom.frozen_bars
    text = " ".join(dom.text)
    assert "block<2>&co" in text, "layer names must survive escaping"
    for label in ("epoch", "svcca similarity", "svcca to final", "non_finite",
                  "frozen at epoch 2", "probe accuracy", "selectivity", "class 3"):
        assert label in text, label

    # The error check must be able to fail: a page whose script throws is caught.
    broken = os.path.join(work, "broken.html")
    with open(broken, "w", encoding="utf-8") as f:
        f.write(source.replace("</body>", "<script>no_such_function();</script></body>"))
    broken_dom = render(chromium, broken)
    assert broken_dom.errors_text and "no_such_function" in broken_dom.errors_text, \
        broken_dom.errors_text

    png = os.path.join(work, "report.png")
    screenshot(chromium, page, png, 7000)
    print(f"screenshot: {png}")
    print(f"ok: {len(dom.charts)} charts rendered ({', '.join(kinds)}), no script errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
