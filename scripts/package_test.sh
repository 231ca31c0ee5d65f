#!/usr/bin/env bash
# Does the release package run wherever it is unpacked, on nothing but the
# base system? Builds it (the `package` target), unpacks it into a temporary
# directory and checks:
#   1. its size (under 48 MiB);
#   2. with ldd, that every library its binaries and libraries need resolves
#      inside the package or to the base system (glibc, libstdc++, libgcc_s);
#      the CUDA libraries of the plug-in and of seqtrain_gpu_tests are the
#      machine's and may be absent;
#   3. in a mount namespace where the system copies of every bundled library
#      are replaced by empty files and /usr/local/cuda by an empty directory:
#      `bin/seqtrain info` runs and says why cuda is unavailable, and a
#      20-step CPU training of the adding task (--device auto) finishes.
# Part 3 needs root and unshare (CI runs as root); without them it is skipped
# and the script exits 77 after parts 1-2 pass (ctest: SKIP_RETURN_CODE 77).
#
# Usage: scripts/package_test.sh BUILD_DIR
set -euo pipefail
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "package test: FAIL: $*" >&2; exit 1; }

cmake --build "$build" --target package >"$work/package.log" 2>&1 ||
  { tail -20 "$work/package.log"; fail "cmake --build $build --target package failed"; }
tarball=$(ls "$build"/seqtrain-*-linux-x86_64.tar.gz)
size=$(stat -c %s "$tarball")
echo "package: $(basename "$tarball"), $((size / 1024)) KiB"
[ "$size" -lt $((48 * 1024 * 1024)) ] || fail "$tarball is $size bytes, over 48 MiB"

tar -xzf "$tarball" -C "$work"
root=$(echo "$work"/seqtrain-*-linux-x86_64)
for path in bin/seqtrain lib/libseqtrain.so share/seqtrain/configs/lstm_adding.yaml; do
  [ -e "$root/$path" ] || fail "the package has no $path"
done

base_system='^(linux-vdso|/lib64/ld-linux|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libstdc\+\+\.so|libgcc_s\.so)'
machine_cuda='^(libcuda\.so|libcudart\.so|libcublas|libcudnn|libnccl)'
# What the loader resolves for the executables and libseqtrain (everything
# they load, transitively: their DT_RPATH covers the bundled libraries' own
# dependencies), and what the plug-in needs directly (it is loaded into a
# process that already has libseqtrain and its libraries).
check_ldd() {
  local status=0
  for file in "$root"/bin/* "$root"/lib/libseqtrain.so; do
    while read -r name arrow target _; do
      [ -z "$name" ] && continue
      if [ "$arrow" != "=>" ]; then  # the vdso and the loader itself
        [[ $name =~ $base_system ]] || { echo "  $(basename "$file") needs $name"; status=1; }
        continue
      fi
      [[ $target == "$root"/* ]] || [[ $name =~ $base_system ]] && continue
      # The GPU tests link the CUDA libraries themselves: the machine's.
      [[ $(basename "$file") == seqtrain_gpu_tests ]] && [[ $name =~ $machine_cuda ]] && continue
      echo "  $(basename "$file") needs $name => $target"
      status=1
    done < <(ldd "$file" 2>/dev/null | sed 's/^\s*//')
  done
  # The plug-ins' own libraries are the machine's: CUDA's, Open MPI's.
  for plugin in libseqtrain_cuda.so libseqtrain_mpi.so; do
    [ -e "$root/lib/$plugin" ] || continue
    for name in $(readelf -d "$root/lib/$plugin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [ -e "$root/lib/$name" ] || [[ $name =~ $base_system ]] || [[ $name =~ $machine_cuda ]] ||
        [[ $name =~ ^libmpi\.so ]] && continue
      echo "  $plugin needs $name, neither in the package nor the machine's CUDA or MPI"
      status=1
    done
  done
  return $status
}
check_ldd || fail "the libraries above come from outside the package and the base system"
echo "ldd: every dependency is in the package or the base system"

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
  echo "package test: SKIP the hidden-libraries run (needs root and unshare)"
  exit 77
fi
# The system copies of what the package bundles, found by soname.
hidden=()
for library in "$root"/lib/*.so*; do
  name=$(basename "$library")
  case $name in libseqtrain*) continue ;; esac
  for folder in /usr/lib/x86_64-linux-gnu /usr/local/lib /usr/lib; do
    [ -e "$folder/$name" ] && hidden+=("$(realpath "$folder/$name")")
  done
done
printf '%s\n' "${hidden[@]}" | sort -u >"$work/hidden.txt"
echo "hiding $(wc -l <"$work/hidden.txt") system libraries and /usr/local/cuda"
cat >"$work/inside.sh" <<INSIDE
set -euo pipefail
: > "$work/empty"
while read -r file; do mount --bind "$work/empty" "\$file"; done < "$work/hidden.txt"
[ -d /usr/local/cuda ] && mount -t tmpfs none /usr/local/cuda
cd "$work"
"$root/bin/seqtrain" info > info.txt 2>&1
"$root/bin/seqtrain" train "$root/share/seqtrain/configs/lstm_adding.yaml" --device auto \
  --set run_dir=$work/run --set training.steps=20 --set training.schedule.warmup_steps=5 \
  --set training.eval_every=10 \
  --set data.validation_size=100 --set training.eval_batches=2 > train.txt 2>&1
INSIDE
if ! unshare -m bash "$work/inside.sh"; then
  cat "$work/info.txt" "$work/train.txt" 2>/dev/null | tail -20
  fail "the package did not run with the system copies hidden"
fi
cat "$work/info.txt"
grep -q '^backends:  serial, cpu$' "$work/info.txt" || fail "info lists cuda with its libraries hidden"
grep -q '^cuda:      unavailable: ' "$work/info.txt" || fail "info does not say why cuda is unavailable"
grep -q '"step":20' "$work/run/metrics.jsonl" || fail "the training did not reach step 20"
echo "package test: pass (info and a 20-step CPU training with the system copies hidden)"
