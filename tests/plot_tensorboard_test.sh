#!/usr/bin/env bash
# seqtrain plot and training.tensorboard end to end: two short runs (one
# interrupted and resumed, so its replayed steps must not appear twice), their
# curves drawn into a PNG, and the event files read back by TensorBoard's own
# loader (scripts/check_tensorboard_events.py) against metrics.jsonl.
# Usage: tests/plot_tensorboard_test.sh BUILD_DIR  (77: matplotlib or
# tensorboard missing for python3; scripts/setup.sh installs both)
set -euo pipefail
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
source_dir=$(cd "$(dirname "$0")/.." && pwd)
python3 -c "import matplotlib, tensorboard" 2>/dev/null ||
  { echo "plot/tensorboard test: SKIP (python3 -m pip install matplotlib tensorboard)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "plot/tensorboard test: FAIL: $*" >&2; exit 1; }
seqtrain() { OMP_WAIT_POLICY=passive "$build/seqtrain" "$@"; }

config() {  # config NAME STEPS
  cat >"$work/$1.yaml" <<YAML
task: adding
seed: 5
threads: 1
run_dir: $work/$1
model: {cell: lstm, hidden_size: 8}
data: {sequence_length: 6, batch_size: 4, validation_size: 8}
training: {steps: $2, eval_every: 5, checkpoint_every: 5, log_every: 2, tensorboard: true,
           optimizer: {learning_rate: 0.01}, schedule: {warmup_steps: 1}}
YAML
}
config a 20
config b 20
seqtrain train "$work/a.yaml" >"$work/a.log" 2>&1 || fail "run a: $(tail -2 "$work/a.log")"
# Run b: 20 steps, then its last checkpoint removed and the run resumed from
# step 15, so steps 16-20 are written twice to the event files.
seqtrain train "$work/b.yaml" >"$work/b.log" 2>&1 || fail "run b: $(tail -2 "$work/b.log")"
rm -rf "$work/b/checkpoints/step_20"
seqtrain train --resume "$work/b" >>"$work/b.log" 2>&1 || fail "resume b: $(tail -2 "$work/b.log")"
[ "$(ls "$work/b/tensorboard" | wc -l)" = 2 ] || fail "run b should have two event files"

for run in a b; do
  python3 "$source_dir/scripts/check_tensorboard_events.py" "$work/$run" ||
    fail "run $run: the event files disagree with metrics.jsonl"
done

seqtrain plot "$work/a" "$work/b" --out "$work/curves.png" >"$work/plot.log" 2>&1 ||
  fail "plot: $(cat "$work/plot.log")"
python3 - "$work/curves.png" <<'PY' || fail "curves.png is not the expected PNG"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", data[16:24])
assert (width, height) == (1500, 420), (width, height)
assert len(data) > 20000, len(data)
PY
# Bad input: one line, exit 2.
set +e
message=$(seqtrain plot "$work/missing" --out "$work/x.png" 2>&1); code=$?
set -e
[ "$code" = 2 ] || fail "plot of a missing run exited $code"
echo "$message" | grep -q "no metrics.jsonl" || fail "plot of a missing run said: $message"
echo "plot/tensorboard test: OK"
