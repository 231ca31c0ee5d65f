#!/usr/bin/env bash
# Registers, shared memory, stack and spills per CUDA kernel, as ptxas reports
# them (-Xptxas -v), for every real architecture the build targets. Exits
# non-zero when a hot kernel spills registers to local memory, or when a kernel
# does not compile.
#
# Usage: scripts/ptxas_report.sh [--nvcc PATH] [--architectures "80-real 90-real 90-virtual"]
#                                [--hot REGEX] [kernel.cu ...]
#   --nvcc           the compiler (default: $CUDACXX, nvcc on PATH, /usr/local/cuda/bin/nvcc)
#   --architectures  CMAKE_CUDA_ARCHITECTURES, ';' or ' ' separated (default "80 90");
#                    PTX-only entries (NN-virtual) have no registers and are skipped
#   --hot            extended regex over demangled kernel names that must not spill
#                    (default: the LSTM, GRU and tanh-RNN cell kernels and attention)
#   kernel.cu        default: every kernels/*.cu
# The ctest test kernels.ptxas_report runs this with the build's compiler and
# architectures.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

nvcc="${CUDACXX:-}"
if [[ -z "$nvcc" ]]; then nvcc="$(command -v nvcc || true)"; fi
if [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]]; then nvcc=/usr/local/cuda/bin/nvcc; fi
architectures="80 90"
hot='(lstm|gru|rnn)_cell_(forward|backward)_kernel|attention'
files=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nvcc) nvcc="$2"; shift 2 ;;
    --architectures) architectures="$2"; shift 2 ;;
    --hot) hot="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "ptxas_report.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
if [[ -z "$nvcc" || ! -x "$nvcc" ]]; then
  echo "ptxas_report.sh: nvcc not found (pass --nvcc or set CUDACXX)" >&2
  exit 2
fi
if [[ ${#files[@]} -eq 0 ]]; then files=("$root"/kernels/*.cu); fi

# "80-real;90-real;90-virtual" -> "80 90": the machine-code architectures.
real_architectures=()
for entry in ${architectures//;/ }; do
  case "$entry" in
    *-virtual) ;;
    native|all|all-major) real_architectures+=(80 90) ;;
    *) real_architectures+=("${entry%-real}") ;;
  esac
done
mapfile -t real_architectures < <(printf '%s\n' "${real_architectures[@]}" | sort -un)
if [[ ${#real_architectures[@]} -eq 0 ]]; then
  echo "ptxas_report.sh: no real architecture in '$architectures'" >&2
  exit 2
fi

demangle=cat
if command -v c++filt > /dev/null; then demangle=c++filt; fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# One nvcc per file (device code only, every architecture at once), the files in
# parallel; each log holds ptxas's lines for all architectures.
gencode=()
for architecture in "${real_architectures[@]}"; do
  gencode+=(-gencode "arch=compute_$architecture,code=sm_$architecture")
done
export nvcc root scratch
compile_one() {
  local file="$1"; shift
  local log="$scratch/$(basename "$file").log"
  if ! "$nvcc" -std=c++20 -O3 -I"$root" -I"$root/include" --Werror=all-warnings "$@" \
      -fatbin -Xptxas -v -o "$scratch/$(basename "$file").fatbin" "$file" > "$log" 2>&1; then
    echo "ptxas_report.sh: $file does not compile:" >&2
    cat "$log" >&2
    return 1
  fi
}
export -f compile_one
status=0
printf '%s\0' "${files[@]}" |
  xargs -0 -P "$(nproc)" -I{} bash -c 'compile_one "$@"' _ {} "${gencode[@]}" || status=1

# One line per entry function: arch, registers, shared, stack, spill stores, spill loads, name.
report="$scratch/report.tsv"
: > "$report"
for file in "${files[@]}"; do
  log="$scratch/$(basename "$file").log"
  [[ -f "$log" ]] || continue
  awk '
    /Compiling entry function/ { match($0, /\x27[^\x27]+\x27/); name = substr($0, RSTART + 1, RLENGTH - 2)
                                 rest = substr($0, RSTART + RLENGTH)
                                 match(rest, /sm_[0-9a-z]+/); arch = substr(rest, RSTART, RLENGTH)
                                 registers = 0; shared = 0; stack = 0; stores = 0; loads = 0 }
    /bytes stack frame/        { stack = $1; stores = $5; loads = $9 }
    /Used [0-9]+ registers/    { for (i = 1; i <= NF; ++i) {
                                   if ($(i + 1) ~ /^registers/) registers = $i
                                   if ($(i + 1) == "bytes" && $(i + 2) ~ /^smem/) shared = $i }
                                 if (name != "") printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", arch, registers, shared, stack, stores, loads, name
                                 name = "" }
  ' "$log" >> "$report"
done
sort -t $'\t' -k1,1 -k7,7 -o "$report" "$report"

printf '%-6s %9s %8s %6s %12s %11s  %s\n' arch registers smem stack spill-stores spill-loads kernel
spilling=0
while IFS=$'\t' read -r architecture registers shared stack stores loads name; do
  pretty="$(printf '%s\n' "$name" | $demangle)"
  marker=""
  if [[ "$stores" != 0 || "$loads" != 0 ]]; then
    if [[ "$pretty" =~ $hot ]]; then marker="  <- hot kernel spills"; spilling=1; fi
  fi
  printf '%-6s %9s %8s %6s %12s %11s  %s%s\n' "$architecture" "$registers" "$shared" "$stack" \
    "$stores" "$loads" "$pretty" "$marker"
done < "$report"

if [[ ! -s "$report" && $status -eq 0 ]]; then
  echo "ptxas_report.sh: ptxas reported no kernels" >&2
  status=1
fi
if [[ $spilling -ne 0 ]]; then
  echo "ptxas_report.sh: a hot kernel spills registers to local memory (pattern: $hot)" >&2
  status=1
fi
exit $status
