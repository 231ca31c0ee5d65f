#!/usr/bin/env python3
"""The data-parallel scaling model of docs/distributed.md: bert_base on H100s.

Per GPU and step: the gradient bytes a ring all-reduce moves, its time at
NVLink (one node of 8) or InfiniBand (16 and 64 GPUs over nodes), the step's
compute time, and the scaling efficiency with and without overlapping the
all-reduce with backward. A model from datasheet peaks, not a measurement:
no GPU has run seqtrain yet (docs/gpu_results.md). Prints a markdown table.

Usage: python3 scripts/scaling_model.py [--batch 32] [--length 128] [--gemm-efficiency 0.6]
"""
import argparse

# bert_base (configs/bert_base.yaml; models/bert.h): vocabulary 30522, hidden
# 768, 12 layers, intermediate 3072, 512 positions, 2 token types.
V, H, L, I, P_POS, TYPES = 30522, 768, 12, 3072, 512, 2

# NVIDIA H100 SXM5 datasheet (docs/kernels.md "The machines"): dense bf16
# tensor-core peak and fp32 (non-tensor) peak; NVLink 4: 900 GB/s per GPU in
# both directions together, 450 GB/s each way. InfiniBand NDR: 400 Gb/s = 50
# GB/s per direction per GPU (one NIC per GPU, as in a DGX H100).
BF16_PEAK, FP32_PEAK = 989e12, 67e12
NVLINK, INFINIBAND = 450e9, 50e9


def parameters():
    embeddings = (V + P_POS + TYPES) * H + 2 * H
    layer = (3 * H * H + 3 * H) + (H * H + H) + 2 * H + (I * H + I) + (H * I + H) + 2 * H
    head = H * H + H + 2 * H + V  # transform dense, LayerNorm, decoder bias (decoder tied)
    return embeddings + L * layer + head


def step_flops(batch, length, masked_rate=0.15):
    tokens = batch * length
    dense = L * (4 * H * H + 2 * H * I)       # weights every token multiplies, per token
    attention = L * 2 * length * H            # QK^T and PV, per token
    decoder = masked_rate * (H * H + H * V)   # the masked slots only
    return 6 * tokens * (dense + decoder) + 3 * 2 * tokens * attention


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="sequences per GPU")
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--gemm-efficiency", type=float, default=0.6,
                        help="share of the peak the step's GEMMs reach (assumed)")
    args = parser.parse_args()
    p = parameters()
    flops = step_flops(args.batch, args.length)
    print(f"bert_base: {p / 1e6:.1f} M parameters; {flops / 1e12:.2f} TFLOP per GPU step "
          f"(batch {args.batch}, T {args.length}); GEMMs at {args.gemm_efficiency:.0%} of peak\n")
    print("| precision | GPUs | link | gradient MB | all-reduce ms | compute ms | "
          "efficiency, no overlap | efficiency, full overlap |")
    print("|---|---|---|---|---|---|---|---|")
    for precision, bytes_per, peak in (("fp32", 4, FP32_PEAK), ("bf16", 2, BF16_PEAK)):
        compute = flops / (peak * args.gemm_efficiency)
        for gpus, link, bandwidth in ((8, "NVLink", NVLINK), (16, "InfiniBand", INFINIBAND),
                                      (64, "InfiniBand", INFINIBAND)):
            gradient = p * bytes_per
            allreduce = 2 * (gpus - 1) / gpus * gradient / bandwidth
            plain = compute / (compute + allreduce)
            overlapped = compute / max(compute, allreduce)
            print(f"| {precision} | {gpus} | {link} | {gradient / 1e6:.0f} | {allreduce * 1e3:.2f} | "
                  f"{compute * 1e3:.2f} | {plain:.0%} | {overlapped:.0%} |")


if __name__ == "__main__":
    main()
