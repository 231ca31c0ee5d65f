#!/usr/bin/env bash
# Builds the `asan` preset (CMakePresets.json: build/asan, RelWithDebInfo with
# AddressSanitizer + UndefinedBehaviorSanitizer, SEQTRAIN_SANITIZE=ON) and
# runs the unit suite under it: every test of seqtrain_tests, whose CLI tests
# run the sanitized seqtrain binary. Any sanitizer report fails the run (UBSan
# does not recover; ASan and LeakSanitizer end the process).
#
# The CUDA part is off by default: building the kernels with nvcc and the
# emulated kernel tests under ASan do not fit CI's time (docs/testing.md has
# the measurements). SEQTRAIN_ASAN_KERNELS=1 builds it (where the toolkit is)
# and runs seqtrain_kernel_tests as well.
#
# Usage: scripts/asan.sh [gtest args, e.g. --gtest_filter='Safetensors*']
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build/asan  # the preset's binaryDir
cuda=OFF
[ "${SEQTRAIN_ASAN_KERNELS:-0}" = 1 ] && cuda=AUTO
mkdir -p "$build_dir"
cmake --preset asan -DSEQTRAIN_CUDA="$cuda" > "$build_dir/configure.log" 2>&1 ||
  { cat "$build_dir/configure.log"; exit 1; }
targets=(seqtrain_tests)
if [ "$cuda" = AUTO ] && grep -q '^build tests/seqtrain_kernel_tests:' "$build_dir/build.ninja"; then
  targets+=(seqtrain_kernel_tests)
fi
cmake --build "$build_dir" --parallel "$(nproc)" --target "${targets[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OMP_NUM_THREADS=2
for target in "${targets[@]}"; do
  "$build_dir/tests/$target" --gtest_brief=1 "$@"
done
