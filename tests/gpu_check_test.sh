#!/usr/bin/env bash
# scripts/gpu_check.sh on a machine without a GPU: it runs what it can (info),
# reports every GPU part as skipped with the reason, writes report.md,
# results.csv and check.log (at most 8 files, at most 2 folders deep) and
# exits 0. Twice: with the plug-in present but no driver or GPU, and with the
# plug-in absent (SEQTRAIN_CUDA_PLUGIN naming a missing file).
# Usage: tests/gpu_check_test.sh BUILD_DIR   (skips, 77, where a GPU answers)
set -euo pipefail
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
source_dir=$(cd "$(dirname "$0")/.." && pwd)
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu check test: SKIP (this machine has a GPU: run scripts/gpu_check.sh itself)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "gpu check test: FAIL: $*" >&2; exit 1; }

cmake --build "$build" --target package >"$work/package.log" 2>&1 ||
  { tail -20 "$work/package.log"; fail "the package did not build"; }
tarball=$(ls "$build"/seqtrain-*-linux-x86_64.tar.gz)
gpu_parts="gpu_tests sanitizer adding bert_tiny bench_lstm bench_attention bench_bert kernels"

check_run() {  # check_run NAME EXPECTED_REASON [ENV=VALUE...]
  local name=$1 reason=$2
  shift 2
  local out="$work/$name"
  env "$@" "$source_dir/scripts/gpu_check.sh" "$tarball" "$out" >"$work/$name.stdout" 2>&1 ||
    fail "$name: gpu_check.sh exited non-zero: $(tail -3 "$work/$name.stdout")"
  for file in report.md results.csv check.log; do
    [ -s "$out/$file" ] || fail "$name: no $file"
  done
  [ "$(find "$out" -type f | wc -l)" -le 8 ] || fail "$name: more than 8 files in OUT_DIR"
  [ "$(find "$out" -mindepth 3 | wc -l)" = 0 ] || fail "$name: folders deeper than 2 in OUT_DIR"
  head -1 "$out/results.csv" | grep -q '^part,metric,seqtrain,peer,unit,ratio,note$' ||
    fail "$name: results.csv has no header"
  grep -q '^| info | pass | ' "$out/report.md" || fail "$name: info did not pass"
  for part in $gpu_parts; do
    grep -qE "^\| $part \| skipped \| [0-9]+ \| .*$reason" "$out/report.md" ||
      fail "$name: $part is not reported as skipped because of '$reason': $(grep "^| $part " "$out/report.md")"
  done
  grep -qE '^\| affinity \| skipped \| ' "$out/report.md" || fail "$name: affinity not skipped"
  grep -q '^Failed parts: none' "$out/report.md" || fail "$name: parts failed: $(grep '^Failed' "$out/report.md")"
  echo "gpu check test: $name: every GPU part skipped ($reason), report written"
}

check_run no_driver "no GPU: .*(no device|unavailable)"
# A CPU-only build's package has no plug-in to look for.
if tar -tzf "$tarball" >"$work/contents.txt" && grep -q '/lib/libseqtrain_cuda.so$' "$work/contents.txt"; then
  check_run no_plugin "no GPU: unavailable: the CUDA plug-in libseqtrain_cuda.so was not found" \
    SEQTRAIN_CUDA_PLUGIN="$work/missing/libseqtrain_cuda.so"
else
  check_run no_plugin "no GPU: unavailable: not built" \
    SEQTRAIN_CUDA_PLUGIN="$work/missing/libseqtrain_cuda.so"
fi
echo "gpu check test: pass"
