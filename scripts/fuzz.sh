#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, SEQTRAIN_FUZZ=ON) with clang in their
# own build directory and runs each on its committed seed corpus
# (fuzz/corpus/<name>/) for a fixed time. Any finding (a crash, a sanitizer
# report, an uncaught non-seqtrain::Error exception, a broken round trip, a
# leak, an input slower than 10 s) fails the script; libFuzzer saves the
# input under BUILD/findings/ and the log says how to reproduce it.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_FUZZER] [NAME...]
#   SECONDS_PER_FUZZER  default 20 (what scripts/test.sh runs)
#   NAME                run_config safetensors trainer_state token_shards
#                       classification_tsv utf8_text (default: all)
# Environment: SEQTRAIN_FUZZ_BUILD_DIR (default build/fuzz), CLANGXX (default
# clang++-19, which scripts/setup.sh installs; clang 14 lacks the
# std::source_location libstdc++ 12 needs).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
fuzzers=("$@")
[ ${#fuzzers[@]} -eq 0 ] &&
  fuzzers=(run_config safetensors trainer_state token_shards classification_tsv utf8_text)
build_dir="${SEQTRAIN_FUZZ_BUILD_DIR:-build/fuzz}"
clangxx="${CLANGXX:-clang++-19}"
if ! command -v "$clangxx" > /dev/null; then
  echo "fuzz: $clangxx not found (scripts/setup.sh installs it): fuzzers not run" >&2
  exit 77
fi

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$clangxx" \
  -DSEQTRAIN_FUZZ=ON -DSEQTRAIN_CUDA=OFF -DSEQTRAIN_BUILD_TESTS=OFF -DSEQTRAIN_BUILD_BENCH=OFF \
  > "$build_dir.configure.log" 2>&1 || { cat "$build_dir.configure.log"; exit 1; }
targets=()
for name in "${fuzzers[@]}"; do targets+=("${name}_fuzzer"); done
build_start=$SECONDS
cmake --build "$build_dir" --parallel "$(nproc)" --target "${targets[@]}"
echo "fuzz: built in $((SECONDS - build_start)) s"

# Leaks are findings too; OpenMP's runtime keeps its thread pool until exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OMP_NUM_THREADS=1
status=0
for name in "${fuzzers[@]}"; do
  work="$build_dir/corpus/$name"  # new inputs go here, the committed seeds stay as they are
  findings="$build_dir/findings/$name"
  mkdir -p "$work" "$findings"
  dict=()
  [ -f "fuzz/$name.dict" ] && dict=("-dict=fuzz/$name.dict")
  echo "fuzz: $name for ${seconds} s"
  if ! "$build_dir/${name}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=8192 -print_final_stats=1 -artifact_prefix="$findings/" "${dict[@]}" \
      "$work" "fuzz/corpus/$name" > "$build_dir/$name.log" 2>&1; then
    tail -n 60 "$build_dir/$name.log"
    echo "fuzz: $name found something: the input is in $findings/; reproduce with" \
         "$build_dir/${name}_fuzzer $findings/<file>" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$build_dir/$name.log" |
      tr '\n' ' ' && echo
  fi
done
exit $status
