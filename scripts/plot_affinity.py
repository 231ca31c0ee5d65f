#!/usr/bin/env python3
"""Draws the plots of `seqtrain bench affinity` from its results.csv: the step
time against the sequence length T per device, the speedup over the serial
backend against T, and the achieved fraction of the device's peak against T,
each as PNG and SVG in the output folder (time_vs_length, speedup_vs_length,
fraction_of_peak_vs_length). One panel per workload (lstm_layer,
transformer_layer, attention_op), one line per device; skipped and
unavailable points are not drawn (results.md lists them).
`seqtrain bench affinity` runs this script.

Usage: plot_affinity.py --out DIR RESULTS_CSV
Exit 2 with one line on stderr for bad input (no such file, missing columns,
nothing measured, matplotlib missing)."""
import argparse
import csv
import os
import sys

WORKLOADS = ("lstm_layer", "transformer_layer", "attention_op")
COLUMNS = ("device", "threads", "workload", "length", "status", "ms",
           "speedup_over_serial", "fraction_of_peak")
FIGURES = (
    ("time_vs_length", "ms", "ms per training step", True),
    ("speedup_vs_length", "speedup_over_serial", "speedup over serial", True),
    ("fraction_of_peak_vs_length", "fraction_of_peak", "fraction of the device's peak", False),
)


def fail(message):
    print(f"seqtrain bench affinity: plot: {message}", file=sys.stderr)
    sys.exit(2)


def read_rows(path):
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                fail(f"{path}: not a bench affinity results.csv (no column {missing[0]})")
            return [r for r in reader if r["status"] == "measured"]
    except OSError as error:
        fail(f"{path}: {error.strerror}")


def label(row):
    return f"cpu x{row['threads']}" if row["device"] == "cpu" else row["device"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the folder for the images")
    parser.add_argument("csv", help="results.csv of seqtrain bench affinity")
    args = parser.parse_args()
    rows = read_rows(args.csv)
    if not rows:
        fail(f"{args.csv}: no measured point to draw")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("matplotlib is not installed for this python3 (python3 -m pip install matplotlib, "
             "or set SEQTRAIN_PYTHON)")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small SVGs
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    lengths = sorted({int(r["length"]) for r in rows})
    devices = sorted({label(r) for r in rows}, key=lambda d: (d != "serial", d))
    for name, column, title, logarithmic in FIGURES:
        figure, axes = plt.subplots(1, len(WORKLOADS), figsize=(12, 3.6), squeeze=False)
        for axis, workload in zip(axes[0], WORKLOADS):
            for device in devices:
                points = sorted((int(r["length"]), float(r[column])) for r in rows
                                if r["workload"] == workload and label(r) == device and r[column])
                if points:
                    axis.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                              markersize=3, label=device)
            axis.set_xscale("log", base=2)
            axis.set_xticks(lengths)
            axis.xaxis.set_major_formatter(plain)
            axis.xaxis.set_minor_formatter(NullFormatter())
            if logarithmic:
                axis.set_yscale("log")
                axis.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                axis.yaxis.set_major_formatter(plain)
                axis.yaxis.set_minor_formatter(NullFormatter())
            axis.set_title(workload, fontsize=10)
            axis.set_xlabel("sequence length T")
            axis.grid(True, which="both", alpha=0.3)
            if axis.lines:
                axis.legend(fontsize=8)
        axes[0][0].set_ylabel(title)
        figure.tight_layout()
        for extension in ("png", "svg"):
            path = os.path.join(args.out, f"{name}.{extension}")
            try:
                figure.savefig(path, dpi=80)
            except OSError as error:
                fail(f"{path}: {error.strerror}")
        plt.close(figure)
    print(f"bench affinity: plots in {args.out}: " + ", ".join(f[0] for f in FIGURES) +
          " (.png, .svg)")


if __name__ == "__main__":
    main()
