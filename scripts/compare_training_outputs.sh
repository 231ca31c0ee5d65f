#!/usr/bin/env bash
# Do two seqtrain binaries train the shipped configs to the same numbers?
# For a refactoring that must not change behaviour (the redesign steps):
# each config in configs/ (or the ones named) runs a few steps on the cpu
# backend with one thread in both binaries; the training and validation
# records (timing left out) and the final weights must be identical.
#
# Usage: scripts/compare_training_outputs.sh BASE_SEQTRAIN NEW_SEQTRAIN [CONFIG...]
#   e.g. a build of the commit before the change, and build/release/seqtrain.
# Steps: STEPS (default 6). Exit 1 when any config differs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: $0 BASE_SEQTRAIN NEW_SEQTRAIN [CONFIG...]" >&2
  exit 2
fi
base=$(realpath "$1") new=$(realpath "$2")
shift 2
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(configs/lstm_charlm.yaml configs/lstm_adding.yaml
                                      configs/lstm_classification.yaml configs/bert_tiny.yaml)
steps=${STEPS:-6}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for config in "${configs[@]}"; do
  name=$(basename "$config" .yaml)
  for side in base new; do
    binary=$base
    [ $side = new ] && binary=$new
    # A small validation (eval_batches) and warmup so a few steps cover the schedule.
    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive "$binary" train "$config" --device cpu \
      --set threads=1 --set run_dir="$work/$name.$side" --set training.steps="$steps" \
      --set training.eval_every=3 --set training.eval_batches=2 --set training.log_every=1 \
      --set training.checkpoint_every=0 --set training.schedule.warmup_steps=2 \
      > "$work/$name.$side.log" 2>&1 || { echo "$name: $side run failed:"; tail -3 "$work/$name.$side.log"; status=1; continue 2; }
    python3 - "$work/$name.$side/metrics.jsonl" > "$work/$name.$side.metrics" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    record = json.loads(line)
    for timing in ("tokens_per_second", "time", "elapsed_seconds", "communication_seconds"):
        record.pop(timing, None)
    print(json.dumps(record, sort_keys=True))
PY
  done
  weights_base="$work/$name.base/checkpoints/step_$steps/model.safetensors"
  weights_new="$work/$name.new/checkpoints/step_$steps/model.safetensors"
  if ! cmp -s "$work/$name.base.metrics" "$work/$name.new.metrics"; then
    echo "$name: metrics differ"; diff "$work/$name.base.metrics" "$work/$name.new.metrics" | head -6; status=1
  elif ! cmp -s "$weights_base" "$weights_new"; then
    echo "$name: metrics agree, final weights differ"; status=1
  else
    echo "$name: identical ($(wc -l < "$work/$name.new.metrics") records, weights $(stat -c %s "$weights_new") bytes)"
  fi
done
exit $status
