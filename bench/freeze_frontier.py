#!/usr/bin/env python3
"""The time/accuracy frontier of bench/freeze_benchmark.sh's results, as a self-contained page.

Every run is a point: its wall time as a share of the same seed's `none` run (x) and its test
accuracy minus that run's (y). The fixed schedules `linear@α` (and `linear`, α = 1) of one seed
joined in order of cost make that seed's frontier F(α); an arm's margin on a seed is its
accuracy minus F at its cost (linear interpolation between the two schedules around it; outside
their range there is no margin). An arm dominates the fixed schedules when the mean margin over
the seeds is above 0 with a paired bootstrap 95 % interval above 0.

    python3 bench/freeze_frontier.py build/freeze_benchmark/results.jsonl frontier.html
"""
import html
import statistics
import sys

from freeze_summary import load, paired_bootstrap


def label(run):
    return run.get("label", run.get("policy", "?"))


def family(name):
    """The frontier an arm is measured against: "+cache" arms against the fixed schedules run
    with the cache ("linear@α+cache"), the others against the plain ones."""
    return "+cache" if name.endswith("+cache") else ""


def pace(name):
    """α of a fixed-schedule arm ("linear" is 1; "+cache" allowed), or None for any other arm."""
    name = name[:-len(family(name))] if family(name) else name
    if name == "linear":
        return 1.0
    if name.startswith("linear@") and "+" not in name and ":" not in name:
        try:
            return float(name[len("linear@"):])
        except ValueError:
            return None
    return None


def interpolate(points, x):
    """F(x) on the piecewise-linear curve through `points` (sorted by x), None outside them."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    if len(points) == 1 and points[0][0] == x:
        return points[0][1]
    return None


def analyse(runs):
    seeds = sorted({r["seed"] for r in runs})
    points = {}  # label -> [(seed, ratio, difference)]
    for seed in seeds:
        by_label = {label(r): r for r in runs if r["seed"] == seed}
        base = by_label.get("none")
        if not base:
            continue
        for name, r in by_label.items():
            points.setdefault(name, []).append(
                (seed, r["wall_s"] / base["wall_s"], r["test_acc"] - base["test_acc"]))
    frontier = {}  # (seed, family) -> [(ratio, difference)] of the fixed schedules, by cost
    for name, ps in points.items():
        if pace(name) is not None:
            for seed, x, y in ps:
                frontier.setdefault((seed, family(name)), []).append((x, y))
    for key in frontier:
        frontier[key].sort()
    margins = {}
    for name, ps in points.items():
        if pace(name) is not None or name == "none":
            continue
        values = []
        for seed, x, y in ps:
            f = interpolate(frontier.get((seed, family(name)), []), x)
            if f is not None:
                values.append(y - f)
        margins[name] = values
    return seeds, points, frontier, margins


def page(runs, title):
    seeds, points, frontier, margins = analyse(runs)
    width, height, pad = 720, 460, 60
    xs = [x for ps in points.values() for _, x, _ in ps] or [1.0]
    ys = [y for ps in points.values() for _, _, y in ps] or [0.0]
    x_lo, x_hi = min(xs + [0.4]) - 0.02, max(xs + [1.0]) + 0.02
    y_lo, y_hi = min(ys + [-0.5]) - 0.05, max(ys + [0.2]) + 0.05
    sx = lambda x: pad + (x - x_lo) / (x_hi - x_lo) * (width - 2 * pad)
    sy = lambda y: height - pad - (y - y_lo) / (y_hi - y_lo) * (height - 2 * pad)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
               "#17becf", "#7f7f7f", "#bcbd22"]
    names = sorted(points, key=lambda n: (pace(n) is None, pace(n) or 0, n))
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for i in range(6):
        x = x_lo + (x_hi - x_lo) * i / 5
        svg.append(f'<line x1="{sx(x):.1f}" y1="{pad}" x2="{sx(x):.1f}" y2="{height - pad}" '
                   f'stroke="#eee"/><text x="{sx(x):.1f}" y="{height - pad + 16}" '
                   f'text-anchor="middle">{x:.2f}</text>')
        y = y_lo + (y_hi - y_lo) * i / 5
        svg.append(f'<line x1="{pad}" y1="{sy(y):.1f}" x2="{width - pad}" y2="{sy(y):.1f}" '
                   f'stroke="#eee"/><text x="{pad - 6}" y="{sy(y) + 4:.1f}" '
                   f'text-anchor="end">{y:+.2f}</text>')
    svg.append(f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">wall time / none '
               f'(same seed)</text>')
    svg.append(f'<text x="14" y="{height / 2}" text-anchor="middle" transform="rotate(-90 14 '
               f'{height / 2})">test accuracy − none (points)</text>')
    # Each seed's frontier, thin; the mean frontier over the seeds, thick.
    for seed, ps in frontier.items():
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in ps)
        svg.append(f'<polyline points="{path}" fill="none" stroke="#999" stroke-width="1" '
                   f'stroke-dasharray="3,3"/>')
    for kind in sorted({family(n) for n in names if pace(n) is not None}):
        fixed = [n for n in names if pace(n) is not None and family(n) == kind]
        mean_front = sorted((statistics.mean(x for _, x, _ in points[n]),
                             statistics.mean(y for _, _, y in points[n])) for n in fixed)
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in mean_front)
        dashes = ' stroke-dasharray="8,3"' if kind else ""
        svg.append(f'<polyline points="{path}" fill="none" stroke="#444" stroke-width="2"'
                   f'{dashes}/>')
    legend_y = pad
    for i, name in enumerate(names):
        colour = colours[i % len(colours)]
        for _, x, y in points[name]:
            svg.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}" '
                       f'fill-opacity="0.35"/>')
        mx = statistics.mean(x for _, x, _ in points[name])
        my = statistics.mean(y for _, _, y in points[name])
        svg.append(f'<circle cx="{sx(mx):.1f}" cy="{sy(my):.1f}" r="6" fill="{colour}" '
                   f'stroke="black"/>')
        svg.append(f'<circle cx="{width - pad - 150}" cy="{legend_y}" r="5" fill="{colour}"/>'
                   f'<text x="{width - pad - 140}" y="{legend_y + 4}">{html.escape(name)}</text>')
        legend_y += 16
    svg.append("</svg>")
    rows = []
    for name in names:
        ps = points[name]
        ratio = statistics.mean(x for _, x, _ in ps)
        diff = statistics.mean(y for _, _, y in ps)
        m = margins.get(name)
        if m and len(m) == 1:
            margin, verdict = f"{m[0]:+.2f}, 1 seed", "one seed: no interval, no verdict"
        elif m:
            lo, hi = paired_bootstrap(m)
            verdict = "dominates" if lo > 0 else ("below" if hi < 0 else "on the frontier")
            margin = f"{statistics.mean(m):+.2f} ({lo:+.2f} – {hi:+.2f}), {len(m)} seeds"
        elif pace(name) is not None:
            margin, verdict = "", f"F(α), α = {pace(name):g}"
        elif name == "none":
            margin, verdict = "", "the baseline"
        elif not any(kind == family(name) for _, kind in frontier):
            margin = f"no fixed schedules (linear@α{family(name)}) in these runs"
            verdict = ""
        else:
            margin, verdict = "outside the fixed schedules' range", ""
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{len(ps)}</td><td>{ratio:.3f}</td>"
                    f"<td>{diff:+.2f}</td><td>{margin}</td><td>{verdict}</td></tr>")
    first = runs[0] if runs else {}
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child{{text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{first.get('model', 'cnn')}, {first.get('epochs', '?')} epochs, {first.get('train_images', '?')}
training images, learning rate {first.get('lr_schedule', 'cosine')}; seeds {', '.join(map(str, seeds))}.
Small dots: one run; large dots: the mean over seeds. Thin dashed: each seed's fixed-schedule
frontier F(α); thick: the mean frontier (long dashes: the schedules run with the frozen-prefix
cache, which "+cache" arms are measured against).</p>
{''.join(svg)}
<h2>Arms</h2>
<table><tr><th>arm</th><th>seeds</th><th>time / none</th><th>accuracy − none</th>
<th>margin over F at its cost (95 % paired bootstrap)</th><th></th></tr>
{''.join(rows)}</table>
</body></html>
"""


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: freeze_frontier.py RESULTS.jsonl OUTPUT.html")
    runs = load(sys.argv[1])
    if not runs:
        sys.exit(f"{sys.argv[1]}: no runs")
    with open(sys.argv[2], "w") as f:
        f.write(page(runs, "Freeze training: time against accuracy"))
    print(f"frontier page: {sys.argv[2]}")


if __name__ == "__main__":
    main()
