#!/usr/bin/env python3
"""Draws the loss curves of a training run's CSV (`impasto gan train --losses`, or `impasto train`'s) as an
SVG, with nothing but the standard library: one panel per group of columns, each curve a moving average
over --window steps (the raw per-step losses of a GAN at batch 1 are mostly noise), the x axis in steps.

    python3 tools/plot_losses.py run.csv -o losses.svg [--groups "D_A,D_B;G_A,G_B;cycle_A,cycle_B,idt_A,idt_B"]
        [--window 100] [--title "CycleGAN photo <-> Monet, 128 px"]

The CSV's first line names the columns; a column "step" is the x axis, "epoch", "lr" and "seconds" are not
drawn. Without --groups every other column gets its own panel."""
import argparse
import csv
import math
import sys

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
SKIP = {"step", "epoch", "lr", "seconds"}


def moving_average(v, w):
    out, s, q = [], 0.0, []
    for x in v:
        q.append(x)
        s += x
        if len(q) > w:
            s -= q.pop(0)
        out.append(s / len(q))
    return out


def nice_ticks(lo, hi, n=4):
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if raw <= m * mag)
    t = math.ceil(lo / step) * step
    ticks = []
    while t <= hi + 1e-9 * step:
        ticks.append(t)
        t += step
    return ticks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--groups", help="panels separated by ';', columns by ','")
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    with open(a.csv, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        sys.exit("plot_losses: %s has no data rows" % a.csv)
    head = rows[0]
    if "step" not in head:
        sys.exit("plot_losses: %s has no 'step' column" % a.csv)
    cols = {h: [] for h in head}
    for r in rows[1:]:
        if len(r) != len(head):
            continue
        for h, v in zip(head, r):
            cols[h].append(float(v))
    groups = [g.split(",") for g in a.groups.split(";")] if a.groups else [[h] for h in head if h not in SKIP]
    for g in groups:
        for h in g:
            if h not in cols:
                sys.exit("plot_losses: no column %r in %s (columns: %s)" % (h, a.csv, ", ".join(head)))
    steps = cols["step"]
    W, PH, L, R, T, B = 720, 170, 60, 150, 30, 28
    H = T + len(groups) * (PH + B) + 10
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">'
           % (W, H), '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="18" font-size="13">%s</text>' % (L, a.title.replace("&", "&amp;").replace("<", "&lt;"))]
    x0, x1 = steps[0], steps[-1] if steps[-1] > steps[0] else steps[0] + 1
    pw = W - L - R
    for gi, g in enumerate(groups):
        top = T + gi * (PH + B)
        curves = [moving_average(cols[h], a.window) for h in g]
        lo = min(min(c) for c in curves)
        hi = max(max(c) for c in curves)
        lo = min(lo, 0.0) if lo > 0 and lo < 0.25 * hi else lo
        if hi - lo < 1e-12:
            hi = lo + 1
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (L, top, pw, PH))
        for t in nice_ticks(lo, hi):
            y = top + PH - (t - lo) / (hi - lo) * PH
            out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (L, L + pw, y, y))
            out.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (L - 4, y + 4, round(t, 10)))
        for t in nice_ticks(x0, x1, 6):
            x = L + (t - x0) / (x1 - x0) * pw
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x, top + PH + 13, t))
        for ci, (h, c) in enumerate(zip(g, curves)):
            colour = COLOURS[ci % len(COLOURS)]
            stride = max(1, len(c) // 500)
            pts = " ".join("%.1f,%.1f" % (L + (steps[i] - x0) / (x1 - x0) * pw, top + PH - (c[i] - lo) / (hi - lo) * PH)
                           for i in range(0, len(c), stride))
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.3" points="%s"/>' % (colour, pts))
            out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (L + pw + 8, top + 14 + 14 * ci, colour, h))
    out.append('<text x="%d" y="%d" text-anchor="middle">step (moving average over %d steps)</text>'
               % (L + pw // 2, H - 2, a.window))
    out.append("</svg>")
    with open(a.output, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
