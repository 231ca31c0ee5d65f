#!/usr/bin/env python3
"""Draws the curves of one or more seqtrain runs from their metrics.jsonl:
training loss, the validation metric and the learning rate against the step,
one line per run, into one PNG (or SVG/PDF, by the file's extension).
`seqtrain plot RUN_DIR [RUN_DIR...] --out FILE.png` runs this script.

Usage: plot_runs.py --out FILE RUN_DIR [RUN_DIR...]
Exit 2 with one line on stderr for bad input (no metrics.jsonl, nothing to
draw, matplotlib missing)."""
import argparse
import json
import os
import sys

# The loss a task's training and validation records carry, first found wins.
TRAIN_LOSS = ("loss", "mlm_loss")
VALIDATION = ("loss", "mse", "mlm_loss")


def fail(message):
    print(f"seqtrain plot: {message}", file=sys.stderr)
    sys.exit(2)


def read_records(run_dir):
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(path):
        fail(f"{run_dir}: no metrics.jsonl (is it a seqtrain run directory?)")
    records = []
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                fail(f"{path} line {number}: not JSON ({error.msg})")
    return records


def series(records, split, keys):
    """(key, steps, values) of the first key the split's records carry."""
    chosen = [r for r in records if r.get("split") == split]
    for key in keys:
        points = [(r["step"], r[key]) for r in chosen
                  if isinstance(r.get(key), (int, float)) and "step" in r]
        if points:
            return key, [p[0] for p in points], [p[1] for p in points]
    return None, [], []


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the image to write (.png, .svg, .pdf)")
    parser.add_argument("runs", nargs="+", help="run directories")
    args = parser.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("needs matplotlib for the python3 that runs it: python3 -m pip install matplotlib "
             "(scripts/setup.sh installs it)")

    runs = [(os.path.basename(os.path.normpath(run)) or run, read_records(run)) for run in args.runs]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    drawn = 0
    for name, records in runs:
        for axis, (split, keys, title) in zip(
                axes, (("train", TRAIN_LOSS, "training loss"),
                       ("validation", VALIDATION, "validation"),
                       ("train", ("lr",), "learning rate"))):
            key, steps, values = series(records, split, keys)
            if steps:
                axis.plot(steps, values, marker="." if len(steps) < 30 else None,
                          label=f"{name} ({key})")
                axis.set_title(title)
                drawn += 1
    if drawn == 0:
        fail("the runs' metrics.jsonl hold no training or validation records yet")
    for axis in axes:
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=8)
    figure.tight_layout()
    try:
        figure.savefig(args.out, dpi=100)
    except (OSError, ValueError) as error:
        fail(f"cannot write {args.out}: {error}")
    print(f"wrote {args.out} ({len(runs)} run{'s' if len(runs) > 1 else ''})")


if __name__ == "__main__":
    main()
