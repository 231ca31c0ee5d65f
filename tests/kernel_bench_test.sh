#!/usr/bin/env bash
# bench/kernel_bench runs its rows: serial and cpu rows report bandwidth,
# FLOP rate and the H100 roofline time of their size (mse_forward: 262144
# elements, 8 bytes and 3 FLOPs each: 0.626 us at 3350 GB/s); without a GPU
# every cuda row is skipped with the reason.
set -euo pipefail
build=${1:?usage: kernel_bench_test.sh BUILD_DIR}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
OMP_NUM_THREADS=1 "$build/bench/kernel_bench" --benchmark_filter='^(mse_forward|sequence_last)/' \
  --benchmark_min_time=0.01 --benchmark_format=json >"$out"
python3 - "$out" <<'PY'
import json, sys
rows = {r["name"].split("/manual_time")[0]: r for r in json.load(open(sys.argv[1]))["benchmarks"]}
for op in ("mse_forward", "sequence_last"):
    for backend in ("serial", "cpu"):
        row = rows[f"{op}/{backend}"]
        assert not row.get("error_occurred"), row
        assert row["GB_per_s"] > 0 and row["roofline_us"] > 0, row
        assert "of_roofline" not in row, row
    cuda = rows[f"{op}/cuda"]
    if cuda.get("error_occurred"):
        assert cuda["error_message"].strip(), cuda
    else:
        assert cuda["of_roofline"] > 0, cuda
roofline = rows["mse_forward/cpu"]["roofline_us"]
assert abs(roofline - 262144 * 8 / 3350e9 * 1e6) < 1e-6, roofline
print("kernel_bench rows: ok")
PY
