#!/usr/bin/env python3
"""The time/accuracy frontier of bench/freeze_benchmark.sh's results, as a self-contained page.

Every run is a point: its wall time as a share of the same seed's `none` run (x) and its test
accuracy minus that run's (y). The fixed schedules `linear@α` (and `linear`, α = 1) of one seed
joined in order of cost make that seed's frontier F(α); an arm's margin on a seed is its
accuracy minus F at its cost (linear interpolation between the two schedules around it; outside
their range there is no margin). An arm dominates the fixed schedules when the mean margin over
the seeds is above 0 with a paired bootstrap 95 % interval above 0; an arm outside the range on
some of its seeds gets no verdict, since the seeds left would be a selection.

    python3 bench/freeze_frontier.py build/freeze_benchmark/results.jsonl frontier.html

Given several results files (one per benchmark invocation: one network, schedule and run
length), it draws one panel per file on shared axes; an output ending in .svg is the figure
alone, a standalone SVG document.

    python3 bench/freeze_frontier.py docs/runs/freeze_eval_*.jsonl docs/freeze_frontiers.svg
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


COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]


def arm_order(names):
    """The fixed schedules by pace, then the other arms by name."""
    return sorted(names, key=lambda n: (pace(n) is None, pace(n) or 0, n))


def cell_title(runs):
    """What the runs of one invocation share: network, learning-rate schedule, epochs."""
    first = runs[0] if runs else {}
    return (f"{first.get('model', 'cnn')}, {first.get('lr_schedule', 'cosine')} rate, "
            f"{first.get('epochs', '?')} epochs")


def assess(name, ps, margins, frontier):
    """(margin text, verdict) of one arm: its mean margin over F at its cost with the paired
    bootstrap interval, or why it has none."""
    m = margins.get(name)
    if m and len(m) < len(ps):  # the mean of the seeds where it fell in range is biased
        lo, hi = paired_bootstrap(m) if len(m) > 1 else (m[0], m[0])
        return (f"{statistics.mean(m):+.2f} ({lo:+.2f} – {hi:+.2f}) on {len(m)} of {len(ps)} "
                f"seeds", f"no verdict: outside the fixed schedules' range on "
                f"{len(ps) - len(m)} seeds")
    if m and len(m) == 1:
        return f"{m[0]:+.2f}, 1 seed", "one seed: no interval, no verdict"
    if m:
        lo, hi = paired_bootstrap(m)
        verdict = "dominates" if lo > 0 else ("below" if hi < 0 else "on the frontier")
        return f"{statistics.mean(m):+.2f} ({lo:+.2f} – {hi:+.2f}), {len(m)} seeds", verdict
    if pace(name) is not None:
        return "", f"F(α), α = {pace(name):g}"
    if name == "none":
        return "", "the baseline"
    if not any(kind == family(name) for _, kind in frontier):
        return f"no fixed schedules (linear@α{family(name)}) in these runs", ""
    return "outside the fixed schedules' range", ""


def axis_ranges(analyses):
    """(x_lo, x_hi, y_lo, y_hi) holding every run of every cell (each as `analyse` gives it), so
    panels compare."""
    xs, ys = [0.4, 1.0], [-0.5, 0.2]
    for _, points, _, _ in analyses:
        for ps in points.values():
            xs += [x for _, x, _ in ps]
            ys += [y for _, _, y in ps]
    return min(xs) - 0.02, max(xs) + 0.02, min(ys) - 0.05, max(ys) + 0.05


def panel(analysis, colours, ranges, left, top, width, height, title):
    """One cell's plot (its runs as `analyse` gives them) as SVG elements in the box (left, top,
    width, height): each run a small dot, each arm's mean a large one, each seed's frontier thin
    and dashed, the mean frontier thick; the title names the cell and the margin of every arm
    that is not a fixed schedule."""
    seeds, points, frontier, margins = analysis
    lines = []  # each judged arm's margin and verdict, the verdict on a line of its own if long
    for name in arm_order(margins):  # the arms judged against the frontier
        margin, verdict = assess(name, points[name], margins, frontier)
        text = f"{name}: margin {margin}"
        if verdict and len(text) + len(verdict) > 84:
            lines += [text + ",", "    " + verdict]
        else:
            lines.append(text + (f", {verdict}" if verdict else ""))
    pad_l, pad_r, pad_t, pad_b = 60, 16, 28 + 13 * len(lines), 40
    x_lo, x_hi, y_lo, y_hi = ranges
    sx = lambda x: left + pad_l + (x - x_lo) / (x_hi - x_lo) * (width - pad_l - pad_r)
    sy = lambda y: top + height - pad_b - (y - y_lo) / (y_hi - y_lo) * (height - pad_t - pad_b)
    svg = [f'<text x="{left + pad_l}" y="{top + 16}" font-weight="bold">{html.escape(title)}'
           f'</text>']
    for i, text in enumerate(lines):
        svg.append(f'<text x="{left + pad_l}" y="{top + 30 + 13 * i}" font-size="10">'
                   f'{html.escape(text)}</text>')
    for i in range(6):
        x = x_lo + (x_hi - x_lo) * i / 5
        svg.append(f'<line x1="{sx(x):.1f}" y1="{top + pad_t}" x2="{sx(x):.1f}" '
                   f'y2="{top + height - pad_b}" stroke="#eee"/><text x="{sx(x):.1f}" '
                   f'y="{top + height - pad_b + 16}" text-anchor="middle">{x:.2f}</text>')
        y = y_lo + (y_hi - y_lo) * i / 5
        svg.append(f'<line x1="{left + pad_l}" y1="{sy(y):.1f}" x2="{left + width - pad_r}" '
                   f'y2="{sy(y):.1f}" stroke="#eee"/><text x="{left + pad_l - 6}" '
                   f'y="{sy(y) + 4:.1f}" text-anchor="end">{y:+.2f}</text>')
    middle_x, middle_y = left + (pad_l + width - pad_r) / 2, top + (pad_t + height - pad_b) / 2
    svg.append(f'<text x="{middle_x}" y="{top + height - 8}" text-anchor="middle">wall time / '
               f'none (same seed)</text>')
    svg.append(f'<text x="{left + 14}" y="{middle_y}" text-anchor="middle" transform="rotate(-90 '
               f'{left + 14} {middle_y})">test accuracy − none (points)</text>')
    for ps in frontier.values():
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in ps)
        svg.append(f'<polyline points="{path}" fill="none" stroke="#999" stroke-width="1" '
                   f'stroke-dasharray="3,3"/>')
    names = arm_order(points)
    for kind in sorted({family(n) for n in names if pace(n) is not None}):
        fixed = [n for n in names if pace(n) is not None and family(n) == kind]
        mean_front = sorted((statistics.mean(x for _, x, _ in points[n]),
                             statistics.mean(y for _, _, y in points[n])) for n in fixed)
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in mean_front)
        dashes = ' stroke-dasharray="8,3"' if kind else ""
        svg.append(f'<polyline points="{path}" fill="none" stroke="#444" stroke-width="2"'
                   f'{dashes}/>')
    for name in names:
        for _, x, y in points[name]:
            svg.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" '
                       f'fill="{colours[name]}" fill-opacity="0.35"/>')
        mx = statistics.mean(x for _, x, _ in points[name])
        my = statistics.mean(y for _, _, y in points[name])
        svg.append(f'<circle cx="{sx(mx):.1f}" cy="{sy(my):.1f}" r="6" fill="{colours[name]}" '
                   f'stroke="black"/>')
    return svg


def figure(cells, columns=2, width=560, height=380):
    """Every cell's panel on one grid with the same axes, and one legend under it, as a
    standalone SVG document; `cells` holds (title, the cell's runs as `analyse` gives them)."""
    analyses = [analysis for _, analysis in cells]
    names = arm_order({n for _, points, _, _ in analyses for n in points})
    colours = {n: COLOURS[i % len(COLOURS)] for i, n in enumerate(names)}
    ranges = axis_ranges(analyses)
    columns = min(columns, len(cells)) or 1
    rows = (len(cells) + columns - 1) // columns
    per_row = 2 * columns
    legend_top = rows * height + 10
    total_w = columns * width
    total_h = legend_top + 20 * ((len(names) + per_row - 1) // per_row) + 10
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{total_w}" height="{total_h}" fill="white"/>']
    for i, (title, analysis) in enumerate(cells):
        svg += panel(analysis, colours, ranges, (i % columns) * width, (i // columns) * height,
                     width, height, title)
    for i, name in enumerate(names):
        x = 70 + (i % per_row) * (total_w - 70) / per_row
        y = legend_top + 20 * (i // per_row) + 8
        svg.append(f'<circle cx="{x:.1f}" cy="{y}" r="5" fill="{colours[name]}"/>'
                   f'<text x="{x + 10:.1f}" y="{y + 4}">{html.escape(name)}</text>')
    svg.append("</svg>")
    return "".join(svg)


def arm_table(runs, analysis):
    seeds, points, frontier, margins = analysis
    rows = []
    for name in arm_order(points):
        ps = points[name]
        ratio = statistics.mean(x for _, x, _ in ps)
        diff = statistics.mean(y for _, _, y in ps)
        margin, verdict = assess(name, ps, margins, frontier)
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{len(ps)}</td><td>{ratio:.3f}</td>"
                    f"<td>{diff:+.2f}</td><td>{margin}</td><td>{verdict}</td></tr>")
    first = runs[0] if runs else {}
    return f"""<p>{first.get('train_images', '?')} training images; seeds {', '.join(map(str, seeds))}.</p>
<table><tr><th>arm</th><th>seeds</th><th>time / none</th><th>accuracy − none</th>
<th>margin over F at its cost (95 % paired bootstrap)</th><th></th></tr>
{''.join(rows)}</table>"""


def page(cells, title):
    """A self-contained page: the figure, then one table of arms per cell ((title, runs))."""
    analysed = [(t, runs, analyse(runs)) for t, runs in cells]
    tables = "".join(f"<h2>{html.escape(t)}</h2>{arm_table(runs, a)}" for t, runs, a in analysed)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:72em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child{{text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Each run is a point: its wall time as a share of the same seed's <code>none</code> run and its
test accuracy minus that run's. Small dots: one run; large dots: the mean over seeds. Thin
dashed: each seed's fixed-schedule frontier F(α); thick: the mean frontier (long dashes: the
schedules run with the frozen-prefix cache, which "+cache" arms are measured against).</p>
{figure([(t, a) for t, _, a in analysed])}
{tables}
</body></html>
"""


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: freeze_frontier.py RESULTS.jsonl [RESULTS.jsonl ...] OUTPUT.html|.svg\n"
                 "  one panel per results file (one benchmark invocation: one network, schedule "
                 "and run length)")
    cells = []
    for path in sys.argv[1:-1]:
        runs = load(path)
        if not runs:
            sys.exit(f"{path}: no runs")
        cells.append((cell_title(runs), runs))
    output = sys.argv[-1]
    with open(output, "w") as f:
        if output.endswith(".svg"):
            f.write(figure([(t, analyse(runs)) for t, runs in cells]) + "\n")
        else:
            f.write(page(cells, "Freeze training: time against accuracy"))
    print(f"frontier {'figure' if output.endswith('.svg') else 'page'}: {output}")


if __name__ == "__main__":
    main()
