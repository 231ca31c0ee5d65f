#!/usr/bin/env bash
# Fresh machine to green tests: install dependencies, configure, build, ctest;
# then the fuzzers' short run (scripts/fuzz.sh) in its own build directory,
# and, with SEQTRAIN_ASAN=1, the unit suite under AddressSanitizer + UBSan
# (scripts/asan.sh; not yet on by default: docs/testing.md says why).
# Usage: scripts/test.sh [extra ctest args]
# Environment: SEQTRAIN_FUZZ_SECONDS (per fuzzer, default 20; 0 skips the
# fuzzers), SEQTRAIN_ASAN=1 adds the sanitized suite.
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
if [ "${SEQTRAIN_ASAN:-0}" = 1 ]; then
  scripts/asan.sh
fi
