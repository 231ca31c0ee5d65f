#!/usr/bin/env bash
# Fresh machine to green tests: install dependencies, configure, build, ctest;
# then the fuzzers' short run (scripts/fuzz.sh) in its own build directory
# (docs/testing.md).
# Usage: scripts/test.sh [extra ctest args]
# Environment: SEQTRAIN_FUZZ_SECONDS (per fuzzer, default 20; 0 skips the
# fuzzers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir="${SEQTRAIN_BUILD_DIR:-build/release}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" --parallel "$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure --timeout 900 "$@"
fuzz_seconds="${SEQTRAIN_FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" != 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds" || { status=$?; [ "$status" -eq 77 ] || exit "$status"; }
fi
