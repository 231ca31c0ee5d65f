#!/usr/bin/env bash
# The GPU check: one command that proves seqtrain's GPU path on a GPU machine
# and times it against PyTorch on the same GPU, from the release package alone
# (nothing to build there). Every part is time-boxed, so one failure or hang
# does not stop the rest; the whole check stays under GPU_CHECK_BUDGET_SECONDS
# (default 450: under 8 minutes on one H100, unpacking included). Parts that
# cannot run here (no GPU, no compute-sanitizer, no torch, a feature not built
# yet) are reported as skipped with the reason.
#
#   info         bin/seqtrain info (the plug-in, the CUDA libraries, the GPU)
#   gpu_tests    bin/seqtrain_gpu_tests: the CUDA backend tests on the device,
#                and one rank of the NCCL communicator (one GPU cannot hold two
#                NCCL ranks; docs/distributed.md)
#   sanitizer    compute-sanitizer memcheck and racecheck on a short subset
#   adding       20 steps of the adding task on cuda (fused and cuDNN layers)
#                against the cpu backend: the losses agree
#   bert_tiny    50 bert_tiny steps on cuda in fp32 (and bf16 once
#                training.precision exists): the loss falls and stays finite
#   bench_lstm   the LSTM layer: seqtrain fused and cuDNN vs nn.LSTM
#   bench_attention  attention forward+backward, T 128/512/2048: seqtrain vs
#                scaled_dot_product_attention (fp32, and bf16 against seqtrain's
#                tensor-core kernels under training.precision bf16)
#   bench_bert   a bert_mini and a bert_base training step vs BertForMaskedLM
#   kernels      each kernel against its roofline figure (docs/kernels.md)
#   affinity     the hardware-affinity sweep (seqtrain bench affinity)
#
# Usage: scripts/gpu_check.sh PACKAGE OUT_DIR
#   PACKAGE  seqtrain-VERSION-linux-x86_64.tar.gz, or the folder it unpacks to
#   OUT_DIR  gets report.md, results.csv and check.log (every part's output)
# Exits 0 even when parts fail; report.md says which.
# GPU_CHECK_DEVICE=cpu runs the training parts on the CPU as if it were the
# GPU: a dry run of the check's own plumbing on a machine without one.
set -uo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 PACKAGE OUT_DIR" >&2
  exit 2
fi
package=$1
export out=$2
export budget=${GPU_CHECK_BUDGET_SECONDS:-450}
export started=$(date +%s)
mkdir -p "$out" || exit 2
out=$(realpath "$out")
export work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export log="$out/check.log" csv="$out/results.csv" report="$out/report.md"
: >"$log"
echo "part,metric,seqtrain,peer,unit,ratio,note" >"$csv"
: >"$work/parts.tsv"

if [ -d "$package" ]; then
  root=$(realpath "$package")
elif [ -f "$package" ]; then
  tar -xzf "$package" -C "$work" || { echo "cannot unpack $package" >&2; exit 2; }
  root=$(echo "$work"/seqtrain-*-linux-x86_64)
else
  echo "$package: no such package file or folder" >&2
  exit 2
fi
export root bin="$root/bin" share="$root/share/seqtrain"
[ -x "$bin/seqtrain" ] || { echo "$root has no bin/seqtrain: not a seqtrain package" >&2; exit 2; }
# The machine's Python CUDA wheels, if any, for the plug-in (backends/cuda_plugin.h).
if command -v python3 >/dev/null; then
  wheels=$(python3 - 2>/dev/null <<'PY'
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
print(":".join(sorted({d for r in roots for d in glob.glob(os.path.join(r, "nvidia", "*", "lib"))})))
PY
)
  [ -n "$wheels" ] && export SEQTRAIN_CUDA_LIBRARY_PATH="${SEQTRAIN_CUDA_LIBRARY_PATH:+$SEQTRAIN_CUDA_LIBRARY_PATH:}$wheels"
fi

# ---- helpers the parts use (exported: each part runs in its own bash) ---------

note() { printf '%s; ' "$*" >>"$work/note"; }
skip() { note "$*"; exit 77; }
# metric PART METRIC SEQTRAIN PEER UNIT NOTE: one row of results.csv; ratio =
# peer / seqtrain for times (ms: above 1 means seqtrain is faster).
metric() {
  local ratio=""
  if [ -n "$3" ] && [ -n "$4" ] && [ "$5" = ms ]; then
    ratio=$(awk -v s="$3" -v p="$4" 'BEGIN { if (s > 0) printf "%.2f", p / s }')
  fi
  echo "$1,$2,$3,$4,$5,$ratio,\"$6\"" >>"$csv"
}
need_gpu() { [ -n "$gpu" ] || skip "no GPU: $no_gpu_reason"; }
need_torch() {
  python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null ||
    return 1
}
# Google Benchmark JSON -> "name ms" lines (errors: "name ERROR message").
benchmark_ms() {
  python3 -c '
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("error_occurred"):
        print(b["name"], "ERROR", b.get("error_message", "").replace(" ", "_"))
    else:
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
        print(b["name"], round(b["real_time"] * scale, 3))' "$1"
}
# seqtrain_bench BINARY FILTER NAME: the package's benchmark rows matching
# FILTER, as "name ms" lines in $work/NAME.txt (printed to the log too).
seqtrain_bench() {
  "$bin/$1" --benchmark_filter="$2" --benchmark_min_time=1 --benchmark_format=json \
    >"$work/$3.json" || return 1
  benchmark_ms "$work/$3.json" >"$work/$3.txt"
  cat "$work/$3.txt"
}
# ms_at FILE STEPS: the ms_per_iteration of the JSON line with that steps, or "".
ms_at() {
  python3 -c 'import json, sys
print(next((r["ms_per_iteration"] for r in map(json.loads, open(sys.argv[1]))
            if r["steps"] == int(sys.argv[2])), ""))' "$1" "$2" 2>/dev/null
}
train() {  # train NAME ARGS...: a run of seqtrain train in $work/NAME
  local name=$1
  shift
  "$bin/seqtrain" train "$@" --set run_dir="$work/$name" --set training.log_every=1 \
    --set training.checkpoint_every=0
}
export -f note skip metric need_gpu need_torch benchmark_ms seqtrain_bench ms_at train

run_part() {  # run_part NAME LIMIT_SECONDS FUNCTION
  local name=$1 limit=$2 function=$3
  local left=$((budget - ($(date +%s) - started)))
  if [ "$left" -lt 15 ]; then
    printf '%s\tskipped\t0\tthe check'"'"'s %ss budget was spent\n' "$name" "$budget" >>"$work/parts.tsv"
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "=== $name (limit ${limit}s) $(date -u +%H:%M:%S)" >>"$log"
  : >"$work/note"
  local begin=$(date +%s)
  timeout --kill-after=10 "$limit" bash -c "$function" >>"$log" 2>&1
  local status=$? seconds=$(($(date +%s) - begin))
  local text=$(sed 's/; $//' "$work/note" | tr '\t\n' '  ')
  case $status in
    0) result=pass ;;
    77) result=skipped ;;
    124 | 137) result=fail text="timed out after ${limit}s; $text" ;;
    *) result=fail text="exit status $status; $text" ;;
  esac
  printf '%s\t%s\t%s\t%s\n' "$name" "$result" "$seconds" "$text" >>"$work/parts.tsv"
  echo "=== $name: $result in ${seconds}s: $text" >>"$log"
}

# ---- the parts -------------------------------------------------------------------

part_info() {
  "$bin/seqtrain" info | tee "$work/info.txt" || exit 1
  note "$(grep '^devices:' "$work/info.txt" | sed 's/^devices: *//')"
  command -v nvidia-smi >/dev/null && nvidia-smi || true
}

part_gpu_tests() {
  need_gpu
  "$bin/seqtrain_gpu_tests" --gtest_brief=1 >"$work/gpu_tests.txt" 2>&1
  local status=$?
  cat "$work/gpu_tests.txt"
  note "$(grep -E '^\[  (PASSED|SKIPPED|FAILED) *\] [0-9]+ test' "$work/gpu_tests.txt" | tr -s ' ' | tr '\n' ' ')"
  grep '^\[  FAILED  \] [A-Z]' "$work/gpu_tests.txt" | head -5 | while read -r line; do note "$line"; done
  exit $status
}

part_sanitizer() {
  need_gpu
  local sanitizer
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null) ||
    skip "compute-sanitizer is not installed"
  local status=0
  "$sanitizer" --tool memcheck --error-exitcode 3 "$bin/seqtrain_gpu_tests" --gtest_brief=1 \
    --gtest_filter='CudaBackendOps.*:CudaBackendRnn/*.MatchesSerialInBothDirections/lstm' ||
    { status=1; note "memcheck found errors (check.log)"; }
  "$sanitizer" --tool racecheck --error-exitcode 3 "$bin/seqtrain_gpu_tests" --gtest_brief=1 \
    --gtest_filter='CudaBackendOps.AttentionMatchesSerial:CudaBackendOps.Bf16PrecisionAttention*:CudaBackendOps.BiasGradMatchesSerial' ||
    { status=1; note "racecheck found hazards (check.log)"; }
  [ $status = 0 ] && note "memcheck and racecheck clean"
  exit $status
}

part_adding() {
  need_gpu
  local common=(--set training.steps=20 --set training.schedule.warmup_steps=5
                --set training.eval_every=20 --set data.validation_size=100
                --set training.eval_batches=2 --set threads=1)
  train adding_cpu "$share/configs/lstm_adding.yaml" --device cpu "${common[@]}" || skip "the cpu run failed"
  local status=0
  for impl in fused cudnn; do
    if ! train "adding_$impl" "$share/configs/lstm_adding.yaml" --device "$device" \
      --set model.impl=$impl "${common[@]}"; then
      note "$impl: the cuda run failed"
      status=1
      continue
    fi
    local worst
    worst=$(python3 - "$work/adding_cpu/metrics.jsonl" "$work/adding_$impl/metrics.jsonl" <<'PY'
import json, sys
def losses(path):
    return {r["step"]: r["loss"] for r in map(json.loads, open(path)) if r.get("split") == "train"}
cpu, cuda = losses(sys.argv[1]), losses(sys.argv[2])
assert sorted(cpu) == sorted(cuda) and len(cpu) == 20, (sorted(cpu), sorted(cuda))
print(max(abs(cuda[s] - cpu[s]) / max(abs(cpu[s]), 1e-6) for s in cpu))
PY
)
    metric adding "max relative loss difference cuda $impl vs cpu over 20 steps" "$worst" "" "" \
      "tolerance 2e-3"
    note "$impl: max relative loss difference $worst"
    awk -v w="$worst" 'BEGIN { exit !(w <= 2e-3) }' || status=1
  done
  exit $status
}

part_bert_tiny() {
  need_gpu
  local corpus="$share/data/fortunes.txt"
  if [ ! -f "$corpus" ]; then  # a synthetic corpus: documents of random words
    corpus="$work/corpus.txt"
    python3 -c '
import random
random.seed(5)
words = ["".join(random.choice("etaoinshrdlu") for _ in range(random.randint(2, 9))) for _ in range(3000)]
with open("'"$corpus"'", "w") as f:
    for d in range(4000):
        f.write(" ".join(random.choice(words) for _ in range(random.randint(20, 120))) + "\n\n")'
  fi
  local common=(--device "$device" --set data.path="$corpus" --set training.steps=50
                --set training.schedule.warmup_steps=5 --set training.eval_every=50
                --set training.eval_batches=2 --set data.tokenizer.vocab_size=4000
                --set 'data.phases=[{steps: 50, sequence_length: 128, batch_size: 32}]')
  local status=0 precisions=fp32
  if grep -q 'training.precision' "$share/docs/configuration.md"; then
    precisions="fp32 bf16"
  else
    note "bf16: skipped, training.precision is not implemented in this package"
  fi
  for precision in $precisions; do
    if ! train "bert_$precision" "$share/configs/bert_tiny.yaml" "${common[@]}" \
      --set training.precision=$precision; then
      note "$precision: the run failed"
      status=1
      continue
    fi
    # The loss falls and stays finite over the 50 steps; tokens/s after warm-up.
    python3 - "$work/bert_$precision/metrics.jsonl" "$precision" >"$work/bert.txt" <<'PY' || status=1
import json, math, sys
train = [r for r in map(json.loads, open(sys.argv[1])) if r.get("split") == "train"]
losses = [r.get("loss", r.get("mlm_loss")) for r in train]
rate = sum(r["tokens_per_second"] for r in train[5:]) / max(len(train[5:]), 1)
ok = len(losses) == 50 and all(map(math.isfinite, losses)) and losses[-1] < losses[0]
print(f"{sys.argv[2]}: loss {losses[0]:.3f} -> {losses[-1]:.3f} over {len(losses)} steps, {rate:.0f} tokens/s")
sys.exit(0 if ok else 1)
PY
    note "$(cat "$work/bert.txt")"
    metric bert_tiny "$precision training tokens/s over steps 6-50" \
      "$(sed -n 's/.* \([0-9]*\) tokens\/s/\1/p' "$work/bert.txt")" "" tokens/s ""
  done
  exit $status
}

part_bench_lstm() {
  need_gpu
  seqtrain_bench lstm_layer_bench 'Cuda' lstm || exit 1
  local peer=""
  if need_torch; then
    peer=$(cd "$share/scripts" && python3 bench_pytorch.py --device cuda --seconds 2 |
           python3 -c 'import json, sys; print(json.load(sys.stdin)["ms_per_iteration"])')
  else
    note "no torch with CUDA: no PyTorch peer"
  fi
  while read -r name ms _; do
    metric bench_lstm "$name (B 32 T 128 I 256 H 512 fwd+bwd)" "$ms" "$peer" ms \
      "peer: nn.LSTM (cuDNN) on the same GPU"
  done <"$work/lstm.txt"
  note "$(tr '\n' ' ' <"$work/lstm.txt") torch ${peer:-none} ms"
  ! grep -q ' ERROR ' "$work/lstm.txt"
}

part_bench_attention() {
  need_gpu
  seqtrain_bench attention_bench 'SeqtrainCuda' attention || exit 1
  if ! need_torch; then note "no torch with CUDA: no PyTorch peer"; fi
  for dtype in float32 bfloat16; do
    need_torch || break
    (cd "$share/scripts" && python3 bench_pytorch_attention.py --device cuda --dtype $dtype \
      --no-padding --steps 128 512 2048 --seconds 1) >"$work/torch_attention_$dtype.jsonl"
  done
  for steps in 128 512 2048; do
    local ms peer32 peer16
    local ms16
    ms=$(awk -v t="SeqtrainCuda/T:$steps/" 'index($1, t) { print $2 }' "$work/attention.txt")
    ms16=$(awk -v t="SeqtrainCudaBf16/T:$steps/" 'index($1, t) { print $2 }' "$work/attention.txt")
    peer32=$(ms_at "$work/torch_attention_float32.jsonl" "$steps")
    peer16=$(ms_at "$work/torch_attention_bfloat16.jsonl" "$steps")
    metric bench_attention "fp32 B 16 heads 8 d 64 T $steps fwd+bwd" "$ms" "$peer32" ms \
      "peer: scaled_dot_product_attention fp32"
    metric bench_attention "bf16 T $steps fwd+bwd" "$ms16" "$peer16" ms \
      "seqtrain: precision bf16, tensor-core kernels on f32 activations; peer: SDPA bf16"
  done
  note "$(tr '\n' ' ' <"$work/attention.txt")"
  ! grep -q ' ERROR ' "$work/attention.txt"
}

part_bench_bert() {
  need_gpu
  seqtrain_bench bert_step_bench 'SeqtrainCuda' bert_bench || exit 1
  local have_hf=0
  need_torch && python3 -c 'import transformers' 2>/dev/null && have_hf=1
  [ $have_hf = 1 ] || note "no torch with CUDA or no transformers: no Hugging Face peer"
  for model in mini base; do
    local base=0 peer=""
    [ $model = base ] && base=1
    if [ $have_hf = 1 ]; then
      peer=$(cd "$share/scripts" && python3 bench_pytorch_bert.py --device cuda --model $model \
        --vocab 30522 --decoder masked --iterations 10 |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["ms_per_step"])')
    fi
    metric bench_bert "bert_$model training step (B 32 T 128 vocab 30522)" \
      "$(awk -v b="base:$base/" 'index($1, b) { print $2 }' "$work/bert_bench.txt")" "$peer" ms \
      "peer: BertForMaskedLM, masked-slot decoder, AdamW, clip"
  done
  note "$(tr '\n' ' ' <"$work/bert_bench.txt")"
  ! grep -q ' ERROR ' "$work/bert_bench.txt"
}

part_kernels() {  # every Backend op on the GPU against its H100 roofline time (bench/kernel_bench)
  need_gpu
  "$bin/kernel_bench" --benchmark_filter='/cuda' --benchmark_min_time=0.05 \
    --benchmark_format=json >"$work/kernels.json" || exit 1
  python3 - "$work/kernels.json" >"$work/kernels.txt" <<'PY' || exit 1
import json, sys
for row in json.load(open(sys.argv[1]))["benchmarks"]:
    name = row["name"].split("/manual_time")[0]
    if row.get("error_occurred"):
        print(name, "ERROR", "-", "-", row.get("error_message", "").replace(" ", "_"))
    else:
        print(name, f'{row["real_time"]:.2f}', f'{row["roofline_us"]:.2f}',
              f'{row["of_roofline"]:.2f}', row.get("label", ""))
PY
  while read -r name us roofline fraction label; do
    metric kernels "$name ($label)" "$us" "$roofline" us \
      "peer: the H100 roofline time of this size (docs/kernels.md); achieved $fraction of it"
  done <"$work/kernels.txt"
  note "$(grep -c ' ERROR ' "$work/kernels.txt" || true) of $(wc -l <"$work/kernels.txt") rows failed"
  ! grep -q ' ERROR ' "$work/kernels.txt"
}

part_affinity() {
  need_gpu
  # The GPU rows beside serial and the cpu (a dry run: serial and cpu only),
  # within the part's limit; the table goes into OUT_DIR as affinity.md.
  local devices=serial,cpu,cuda
  [ "$device" = cuda ] || devices=serial,cpu
  "$bin/seqtrain" bench affinity --devices $devices --threads 1,$(nproc) \
    --lengths 64,256,1024,4096 --out "$work/affinity" --budget-seconds 40 --no-plots || exit 1
  cp "$work/affinity/results.md" "$out/affinity.md"
  local measured
  measured=$(grep -c ',measured,' "$work/affinity/results.csv")
  note "$measured points measured (affinity.md)"
  while IFS=, read -r dev _ workload length _ _ _ status ms _ _ gflops _ fraction speedup _; do
    [ "$dev" != "${dev#cuda}" ] && [ "$status" = measured ] || continue
    metric affinity "$workload T $length on $dev (fwd+bwd, H 256, B 8)" "$ms" "" ms \
      "GFLOP/s $gflops, fraction of peak $fraction, speedup over serial ${speedup:-n/a}"
  done <"$work/affinity/results.csv"
  [ "$measured" -gt 0 ]
}
export -f part_info part_gpu_tests part_sanitizer part_adding part_bert_tiny part_bench_lstm \
  part_bench_attention part_bench_bert part_kernels part_affinity

# ---- run ---------------------------------------------------------------------------

"$bin/seqtrain" info >"$work/info.txt" 2>&1
export gpu="" no_gpu_reason="" device=${GPU_CHECK_DEVICE:-cuda}
if [ "$device" != cuda ]; then
  gpu="none: a dry run with --device $device in place of cuda (GPU_CHECK_DEVICE)"
elif grep -qE '^devices: .*CUDA: [0-9]+ devices?:' "$work/info.txt"; then
  gpu=$(sed -n 's/^devices: .*CUDA: //p' "$work/info.txt")
else
  no_gpu_reason=$(grep -E '^(cuda|devices):' "$work/info.txt" | sed 's/^[a-z]*: *//' |
                  grep -E 'unavailable|no device' | head -1)
  [ -n "$no_gpu_reason" ] || no_gpu_reason="seqtrain info lists no CUDA device"
fi

run_part info 30 part_info
run_part gpu_tests 150 part_gpu_tests
run_part sanitizer 80 part_sanitizer
run_part adding 45 part_adding
run_part bert_tiny 60 part_bert_tiny
run_part bench_lstm 40 part_bench_lstm
run_part bench_attention 55 part_bench_attention
run_part bench_bert 60 part_bench_bert
run_part kernels 40 part_kernels
run_part affinity 60 part_affinity

# ---- report ------------------------------------------------------------------------

{
  echo "# seqtrain GPU check"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(($(date +%s) - started)) s in all (budget ${budget} s)"
  echo "- package: $(head -1 "$work/info.txt")"
  echo "- host: $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
  if command -v nvidia-smi >/dev/null; then
    echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
  fi
  echo "- devices: ${gpu:-none ($no_gpu_reason)}"
  echo
  echo "| part | result | seconds | notes |"
  echo "|---|---|---|---|"
  while IFS=$'\t' read -r name result seconds text; do
    echo "| $name | $result | $seconds | ${text//|/\\|} |"
  done <"$work/parts.tsv"
  echo
  echo "Measurements (results.csv; ratio = PyTorch time / seqtrain time, above 1 means seqtrain is faster):"
  echo
  echo "| part | metric | seqtrain | peer | unit | ratio | note |"
  echo "|---|---|---|---|---|---|---|"
  tail -n +2 "$csv" | while IFS=, read -r part metric_name ours peer unit ratio text; do
    echo "| $part | $metric_name | $ours | $peer | $unit | $ratio | ${text//\"/} |"
  done
  echo
  failed=$(awk -F'\t' '$2 == "fail" { printf "%s ", $1 }' "$work/parts.tsv")
  echo "Failed parts: ${failed:-none}. Every part's output is in check.log."
} >"$report"
cat "$report"
exit 0
