#!/usr/bin/env bash
# Reads the SASS of built CUDA kernels (cuobjdump -sass) and checks that the
# tensor-core attention kernels (kernels/attention_tensor_core.cu) kept their
# tensor-core instructions: every instantiation, on every architecture in the
# binary, must hold at least the HMMA instructions of one unrolled tile
# iteration of its main loop (each WMMA m16n16k16 mma_sync is two
# HMMA.16816 on sm_80 and sm_90):
#   forward  d 64: 16 mma_sync (S: 2 x 4, O: 4 x 2)   d 128: 32 (S: 2 x 8, O: 8 x 2)
#   dq       d 64: 24 (S, dP: 2 x 2 x 4; dQ: 4 x 2)   d 128: 48
#   dk_dv    d 64: 32 (S, dP: 2 x 2 x 4; dK, dV: 2 x 4 x 2)
#            d 128: 32 (query tiles of 16: S, dP: 2 x 1 x 8; dK, dV: 2 x 8 x 1)
# A compiler that fell back to scalar code, or an edit that moved a product off
# the tensor cores, shows as fewer. Prints HMMA and FFMA counts per kernel and
# architecture (and the totals for kernels/attention.cu's fp32 kernels, for
# comparison).
#
# Usage: scripts/sass_check.sh BINARY   (an object, static library, shared
#        library or executable with device code, e.g. libseqtrain_kernels_cuda.a)
# cuobjdump: $CUOBJDUMP, PATH, /usr/local/cuda/bin, or PyPI's
# nvidia-cuda-cuobjdump (scripts/setup.sh installs it). Exits 77 (skipped)
# when none is found, 1 when a kernel lost its HMMA or none is in the binary.
set -euo pipefail

if [[ $# -ne 1 || ! -f "$1" ]]; then
  echo "usage: scripts/sass_check.sh BINARY (a built file with device code)" >&2
  exit 2
fi
binary="$1"

find_cuobjdump() {
  if [[ -n "${CUOBJDUMP:-}" && -x "$CUOBJDUMP" ]]; then echo "$CUOBJDUMP"; return; fi
  if command -v cuobjdump > /dev/null; then command -v cuobjdump; return; fi
  if [[ -x /usr/local/cuda/bin/cuobjdump ]]; then echo /usr/local/cuda/bin/cuobjdump; return; fi
  local python site
  for python in python3 python; do
    command -v "$python" > /dev/null || continue
    for site in $("$python" -c 'import site, sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2> /dev/null); do
      for candidate in "$site"/nvidia/cu*/bin/cuobjdump "$site"/nvidia/cuda_cuobjdump/bin/cuobjdump; do
        if [[ -x "$candidate" ]]; then echo "$candidate"; return; fi
      done
    done
  done
}

cuobjdump="$(find_cuobjdump || true)"
if [[ -z "$cuobjdump" ]]; then
  echo "sass_check.sh: skipped: no cuobjdump (not in the toolkit here; scripts/setup.sh installs" \
    "PyPI's nvidia-cuda-cuobjdump, or set CUOBJDUMP)" >&2
  exit 77
fi

sass="$(mktemp)"
trap 'rm -f "$sass"' EXIT
"$cuobjdump" -sass "$binary" > "$sass"

demangle=cat
if command -v c++filt > /dev/null; then demangle=c++filt; fi

# One line per function and architecture: arch, HMMA, FFMA, mangled name.
counts="$(awk '
  /arch = sm_/            { arch = $3 }
  /Function :/            { if (name != "") print name_arch, hmma + 0, ffma + 0, name
                            name = $3; name_arch = arch; hmma = 0; ffma = 0 }
  /[ \t]HMMA[.]/          { ++hmma }
  /[ \t]FFMA[ .]/         { ++ffma }
  END                     { if (name != "") print name_arch, hmma + 0, ffma + 0, name }
' "$sass")"

status=0
checked=0
printf '%-6s %6s %6s %6s  %s\n' arch HMMA FFMA needed kernel
while read -r architecture hmma ffma name; do
  [[ "$name" == *attention_tensor_core_* ]] || continue
  case "$name" in
    *forward_kernel*) kind=forward ;;
    *dq_kernel*) kind=dq ;;
    *dk_dv_kernel*) kind=dk_dv ;;
    *) continue ;;
  esac
  if [[ "$name" == *Li128E* ]]; then dim=128; else dim=64; fi
  case "$kind" in
    forward) needed=32 ;;
    dq) needed=48 ;;
    dk_dv) needed=64 ;;
  esac
  if [[ $dim -eq 128 && $kind != dk_dv ]]; then needed=$((needed * 2)); fi
  marker=""
  if [[ $hmma -lt $needed ]]; then marker="  <- lost tensor-core instructions"; status=1; fi
  printf '%-6s %6s %6s %6s  %s%s\n' "$architecture" "$hmma" "$ffma" "$needed" \
    "$(printf '%s\n' "$name" | $demangle |
      sed -e 's/(anonymous namespace):://g' -e 's/seqtrain::kernels:://g' -e 's/^void //' \
        -e 's/(AttentionForwardArgs.*\|(AttentionBackwardArgs.*//')" "$marker"
  checked=$((checked + 1))
done < <(sort -k1,1 -k4,4 <<< "$counts")

# The fp32 kernels of kernels/attention.cu, for comparison (not checked).
awk '$4 ~ /attention_(forward|backward_dq|backward_dk_dv)_kernel/ && $4 !~ /tensor_core/ {
       h[$1] += $2; f[$1] += $3 }
     END { for (a in h) printf "fp32 attention kernels, %s: %d HMMA, %d FFMA\n", a, h[a], f[a] }' \
  <<< "$counts" | sort

if [[ $checked -eq 0 ]]; then
  echo "sass_check.sh: no tensor-core attention kernel in $binary" >&2
  exit 1
fi
if [[ $status -ne 0 ]]; then
  echo "sass_check.sh: a tensor-core attention kernel has fewer HMMA than one tile iteration needs" >&2
fi
exit $status
