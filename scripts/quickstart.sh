#!/usr/bin/env bash
# Fresh machine to a trained model: install dependencies, build, and train the
# default config (a 2-layer LSTM character language model on the English
# fortune databases) on the CPU. Extra arguments go to `seqtrain train`, e.g.
#   scripts/quickstart.sh --set training.steps=200
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir="${SEQTRAIN_BUILD_DIR:-build/release}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEQTRAIN_BUILD_TESTS=OFF
cmake --build "$build_dir" --parallel "$(nproc)" --target seqtrain_cli
config="${SEQTRAIN_CONFIG:-configs/lstm_charlm.yaml}"
run_dir="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
"$build_dir/seqtrain" train "$config" --set run_dir="$run_dir" "$@"
echo
echo "run directory: $run_dir"
echo "  metrics:     $run_dir/metrics.jsonl"
echo "  checkpoints: $run_dir/checkpoints/"
echo "  sample:      $build_dir/seqtrain generate $run_dir --prompt 'The ' --length 300"
