#!/usr/bin/env bash
# Runs every seqtrain-vs-PyTorch comparison of docs/benchmarks.md back to back,
# both sides of each pair in the same shell, threads and environment, and
# prints the load average around each pair so that a reader can tell a quiet
# run from a loaded one.
#
#   scripts/bench_compare.sh [BUILD_DIR] [THREADS...]
#
# BUILD_DIR (default build/release) must be a Release build configured with
# -DSEQTRAIN_BUILD_BENCH=ON. THREADS defaults to "1 2". Needs python3 with
# torch and transformers (pip install torch transformers): scripts only, never
# the engine.
set -euo pipefail

build_dir=${1:-build/release}
shift || true
threads_list=("$@")
[[ ${#threads_list[@]} -gt 0 ]] || threads_list=(1 2)

for target in lstm_layer_bench attention_bench bert_step_bench fma_peak_bench; do
  if [[ ! -x "$build_dir/bench/$target" ]]; then
    echo "bench_compare: $build_dir/bench/$target not found; build it with" \
         "'cmake --build $build_dir --target $target' (configure with -DSEQTRAIN_BUILD_BENCH=ON)" >&2
    exit 2
  fi
done

export OMP_WAIT_POLICY=passive
bench="$build_dir/bench"

section() {
  echo
  echo "=== $* ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
}

section "FMA peak"
OMP_NUM_THREADS=1 "$bench/fma_peak_bench" --benchmark_min_time=1

for threads in "${threads_list[@]}"; do
  export OMP_NUM_THREADS=$threads

  section "LSTM layer, $threads thread(s)"
  "$bench/lstm_layer_bench" --benchmark_filter='Cpu|OneDnn'
  python3 scripts/bench_pytorch.py --threads "$threads"

  section "attention, $threads thread(s), padded"
  "$bench/attention_bench" --benchmark_filter='Attention_SeqtrainCpu/T:(128|512)/padded:1/dropout_pct:0/'
  python3 scripts/bench_pytorch_attention.py --threads "$threads"

  section "attention, $threads thread(s), no padding"
  "$bench/attention_bench" --benchmark_filter='Attention_SeqtrainCpu/T:(128|512)/padded:0/'
  python3 scripts/bench_pytorch_attention.py --threads "$threads" --no-padding
  # seqtrain's forward and backward passes alone (no PyTorch counterpart)
  "$bench/attention_bench" --benchmark_filter='(Forward|Backward)_SeqtrainCpu'

  # One benchmark per process, so that each peak resident set is its own.
  for vocab in 8000 30522; do
    section "bert_mini step, V $vocab, $threads thread(s)"
    "$bench/bert_step_bench" --benchmark_filter="SeqtrainCpu/vocab:$vocab/"
    python3 scripts/bench_pytorch_bert.py --threads "$threads" --vocab "$vocab" --decoder all
    python3 scripts/bench_pytorch_bert.py --threads "$threads" --vocab "$vocab" --decoder masked
  done
done

section "done"
