#!/usr/bin/env python3
"""bench/freeze_frontier.py on runs whose margins are known: an arm above every seed's fixed
schedules dominates, one below them does not, one whose margin changes sign across seeds is on
the frontier, and an arm cheaper than every schedule has no margin. Given two results files, one
figure holds a panel per file.

Usage: freeze_frontier_test.py SOURCE_DIR WORK_DIR"""
import json, os, re, subprocess, sys

from checks import check, finish

source, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)


runs = []
for seed in (1, 2, 3, 4):
    runs.append({"label": "none", "seed": seed, "wall_s": 200.0, "test_acc": 93.0, "epochs": 6})
    # F(α) of this seed: (0.5, -0.6), (0.6, -0.4), (0.7, -0.2), (0.8, -0.1), shifted by the seed.
    for arm, (x, y) in {"linear@0.6": (0.5, -0.6), "linear@0.8": (0.6, -0.4),
                        "linear": (0.7, -0.2), "linear@1.2": (0.8, -0.1)}.items():
        runs.append({"label": arm, "seed": seed, "wall_s": 200 * x,
                     "test_acc": 93 + y + 0.01 * seed})
    # At 0.65, F = -0.3 + 0.01·seed: margins 0.115 + 0.01·seed (0.125 … 0.155), all above.
    runs.append({"label": "above", "seed": seed, "wall_s": 130.0,
                 "test_acc": 93 - 0.185 + 0.02 * seed})
    # At 0.75, F = -0.15 + 0.01·seed: margins -0.10 on every seed.
    runs.append({"label": "below", "seed": seed, "wall_s": 150.0,
                 "test_acc": 93 - 0.25 + 0.01 * seed})
    # Margins -0.2, +0.2, -0.2, +0.2: the interval holds 0.
    runs.append({"label": "mixed", "seed": seed, "wall_s": 140.0,
                 "test_acc": 93 - 0.2 + 0.01 * seed + (0.2 if seed % 2 == 0 else -0.2)})
    runs.append({"label": "cheap", "seed": seed, "wall_s": 60.0, "test_acc": 92.0})
    # Above F on seeds 1 and 2 (+0.20 at 0.65), slower than every schedule on 3 and 4.
    runs.append({"label": "partial", "seed": seed, "wall_s": 130.0 if seed < 3 else 180.0,
                 "test_acc": 93 - 0.1 + 0.01 * seed})
    # The schedules with the cache, cheaper: (0.4, -0.6), (0.5, -0.4). "fast+cache" at 0.45
    # (F = -0.5) with -0.45: +0.05 over them, though below the plain schedules' range.
    for arm, (x, y) in {"linear@0.6+cache": (0.4, -0.6), "linear@0.8+cache": (0.5, -0.4)}.items():
        runs.append({"label": arm, "seed": seed, "wall_s": 200 * x, "test_acc": 93 + y})
    runs.append({"label": "fast+cache", "seed": seed, "wall_s": 90.0, "test_acc": 93 - 0.45})
    if seed == 1:  # run on one seed only: a margin, but no interval and no verdict
        runs.append({"label": "single", "seed": seed, "wall_s": 130.0, "test_acc": 93.0})
results = os.path.join(work, "results.jsonl")
with open(results, "w") as f:
    for r in runs:
        f.write(json.dumps(r) + "\n")
page = os.path.join(work, "frontier.html")
r = subprocess.run([sys.executable, os.path.join(source, "bench", "freeze_frontier.py"), results,
                    page], capture_output=True, text=True)
check("exit 0", r.returncode == 0, r.stderr)
text = open(page).read() if os.path.exists(page) else ""
rows = {m.group(1): m.group(2) for m in re.finditer(r"<tr><td>([^<]*)</td>(.*?)</tr>", text)}


def cells(arm):
    return re.findall(r"<td>([^<]*)</td>", rows.get(arm, ""))


above = cells("above")
check("above: mean margin +0.14 over 4 seeds", len(above) == 5 and above[3].startswith("+0.14")
      and "4 seeds" in above[3], above)
check("above: dominates", above[-1:] == ["dominates"], above)
check("below: margin -0.10, below", cells("below")[3:4] and cells("below")[3].startswith("-0.10")
      and cells("below")[-1] == "below", cells("below"))
check("mixed: on the frontier", cells("mixed")[-1:] == ["on the frontier"], cells("mixed"))
check("cheap: no margin outside the schedules' range",
      cells("cheap")[3:4] == ["outside the fixed schedules' range"], cells("cheap"))
check("in range on 2 of 4 seeds: their margins, no verdict",
      cells("partial")[3:] == ["+0.20 (+0.20 – +0.20) on 2 of 4 seeds",
                               "no verdict: outside the fixed schedules' range on 2 seeds"],
      cells("partial"))
check("the fixed schedules are F(α)", cells("linear@0.8")[-1:] == ["F(α), α = 0.8"],
      cells("linear@0.8"))
check("a +cache arm is measured against the schedules with the cache",
      cells("fast+cache")[3:4] and cells("fast+cache")[3].startswith("+0.05")
      and cells("fast+cache")[-1] == "dominates", cells("fast+cache"))
check("the schedules with the cache are F(α) too",
      cells("linear@0.6+cache")[-1:] == ["F(α), α = 0.6"], cells("linear@0.6+cache"))
check("one seed: a margin without a verdict",
      cells("single")[3:] == ["+0.29, 1 seed", "one seed: no interval, no verdict"],
      cells("single"))
check("a plot with one point per run", text.count('r="3"') == len(runs), text.count('r="3"'))
check("self-contained", "<svg" in text and "src=" not in text and "href=" not in text)

# Two cells (two invocations) on one figure: a panel each, titled by what its runs share, with
# its own verdicts; one legend entry per arm; the same axes.
second = os.path.join(work, "resnet_step_10.jsonl")
with open(second, "w") as f:
    for seed in (1, 2, 3):
        for arm, x, y in (("none", 1.0, 0.0), ("linear@0.8", 0.5, -0.5), ("linear", 0.7, -0.1),
                          ("below", 0.6, -0.5)):  # F at 0.6 is -0.3: margin -0.20
            f.write(json.dumps({"label": arm, "seed": seed, "wall_s": 300 * x,
                                "test_acc": 94 + y + 0.01 * seed, "model": "resnet",
                                "lr_schedule": "step", "epochs": 10}) + "\n")
figure = os.path.join(work, "frontiers.svg")
r = subprocess.run([sys.executable, os.path.join(source, "bench", "freeze_frontier.py"), results,
                    second, figure], capture_output=True, text=True)
check("two cells: exit 0", r.returncode == 0, r.stderr)
svg = open(figure).read() if os.path.exists(figure) else ""
titles = re.findall(r'font-weight="bold">([^<]*)<', svg)
check("a panel per cell, titled by its runs",
      titles == ["cnn, cosine rate, 6 epochs", "resnet, step rate, 10 epochs"], titles)
second_panel = svg[svg.find("resnet, step rate"):]
check("each panel gives its own cell's verdicts",
      "above: margin +0.14" in svg and "above:" not in second_panel
      and "below: margin -0.20 (-0.20 – -0.20), 3 seeds, below" in second_panel,
      re.findall(r'font-size="10">([^<]*)<', svg))
check("every run of both cells is a dot", svg.count('r="3"') == len(runs) + 12,
      svg.count('r="3"'))
legend = re.findall(r'r="5"[^>]*/><text[^>]*>([^<]*)<', svg)
check("one legend entry per arm, colours shared by the panels",
      sorted(legend) == sorted({r["label"] for r in runs}), legend)
ticks = re.findall(r'text-anchor="end">([^<]*)<', svg)
check("the panels share their axes", len(ticks) == 12 and ticks[:6] == ticks[6:], ticks)
check("a standalone SVG document", svg.startswith("<svg") and svg.rstrip().endswith("</svg>"))
page2 = os.path.join(work, "frontiers.html")
r = subprocess.run([sys.executable, os.path.join(source, "bench", "freeze_frontier.py"), results,
                    second, page2], capture_output=True, text=True)
text2 = open(page2).read() if r.returncode == 0 else ""
check("the page has a table of arms per cell", text2.count("<table>") == 2
      and "<h2>resnet, step rate, 10 epochs</h2>" in text2, r.stderr)
r = subprocess.run([sys.executable, os.path.join(source, "bench", "freeze_frontier.py"), page],
                   capture_output=True, text=True)
check("no output named: usage", r.returncode != 0 and "usage" in r.stderr, r.stderr)

finish()
