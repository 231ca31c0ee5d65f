#!/usr/bin/env python3
"""Reads a seqtrain run's TensorBoard event files with TensorBoard's own
loader (EventAccumulator, which also drops the steps a resumed run replays)
and checks that they hold exactly the numbers of the run's metrics.jsonl:
every numeric field of every record as the scalar <split>/<field> at its step,
to float32 precision.

Usage: check_tensorboard_events.py RUN_DIR    (exit 0: they agree; 1: they
differ, with the first difference; 77: tensorboard is not installed)"""
import json
import os
import sys

try:
    from tensorboard.backend.event_processing import event_accumulator
except ImportError:
    print("check_tensorboard_events: SKIP (pip install tensorboard)")
    sys.exit(77)

run = sys.argv[1]
expected = {}
with open(os.path.join(run, "metrics.jsonl")) as lines:
    for line in lines:
        record = json.loads(line)
        for key, value in record.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step":
                expected.setdefault(f"{record['split']}/{key}", {})[record["step"]] = value

accumulator = event_accumulator.EventAccumulator(
    os.path.join(run, "tensorboard"), size_guidance={event_accumulator.SCALARS: 0})
accumulator.Reload()
tags = set(accumulator.Tags()["scalars"])
if tags != set(expected):
    print(f"tags differ: events {sorted(tags)}, metrics.jsonl {sorted(expected)}")
    sys.exit(1)
for tag in sorted(tags):
    got = {event.step: event.value for event in accumulator.Scalars(tag)}
    if set(got) != set(expected[tag]):
        print(f"{tag}: steps differ: events {sorted(got)}, metrics.jsonl {sorted(expected[tag])}")
        sys.exit(1)
    for step, value in expected[tag].items():
        if abs(got[step] - value) > 1e-6 * max(1.0, abs(value)):
            print(f"{tag} at step {step}: events {got[step]}, metrics.jsonl {value}")
            sys.exit(1)
print(f"tensorboard events agree with metrics.jsonl: {len(tags)} tags")
