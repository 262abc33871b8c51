"""Plots the histograms of `hakozuna profile -o FILE` (run by the command).

  profile_plot.py HISTOGRAM.tsv REPORT.txt OUT.{png,svg,html}

Two bar charts by block size: allocations (split into blocks freed by their
own shard's threads, freed remotely, and not freed), and live bytes at the
peak. .html holds the SVG and the text report.
"""
import html
import io
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(tsv, report, out):
    rows = []
    with open(tsv) as f:
        next(f)
        for line in f:
            label, alloc, free, remote, peak = line.rstrip("\n").split("\t")
            rows.append((label, int(alloc), int(free), int(remote), int(peak)))
    labels = [r[0] for r in rows]
    x = range(len(rows))
    local = [r[2] - r[3] for r in rows]
    remote = [r[3] for r in rows]
    kept = [max(r[1] - r[2], 0) for r in rows]
    fig, (a, b) = plt.subplots(2, 1, figsize=(max(8, 0.55 * len(rows) + 3), 8), sharex=True)
    a.bar(x, local, label="freed by the owner's shard")
    a.bar(x, remote, bottom=local, label="freed remotely")
    a.bar(x, kept, bottom=[l + r for l, r in zip(local, remote)], label="not freed")
    a.set_ylabel("allocations")
    a.set_title("allocations by block size")
    a.legend()
    b.bar(x, [r[4] / 2**20 for r in rows], color="tab:purple")
    b.set_ylabel("MiB")
    b.set_title("live bytes at the peak, by block size")
    b.set_xticks(list(x))
    b.set_xticklabels(labels, rotation=45, ha="right")
    fig.tight_layout()
    if out.endswith(".html"):
        svg = io.StringIO()
        fig.savefig(svg, format="svg")
        svg = svg.getvalue()
        svg = svg[svg.find("<svg"):]  # without the XML prologue, inside HTML
        with open(report) as f:
            text = f.read()
        with open(out, "w") as f:
            f.write("<!doctype html>\n<html><head><meta charset='utf-8'><title>hakozuna profile</title></head>"
                    "<body>\n<pre>%s</pre>\n%s\n</body></html>\n" % (html.escape(text), svg))
    else:
        fig.savefig(out)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
