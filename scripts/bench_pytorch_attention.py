#!/usr/bin/env python3
"""Times PyTorch's attention on the shapes of bench/attention_bench.cc.

torch.nn.functional.scaled_dot_product_attention, fp32, forward + backward
(gradients of q, k and v): batch 16, 8 heads, d 64, T 128 and 512, with a key
padding mask (boolean attn_mask [B, 1, 1, T]; key lengths fall evenly from T to
about T/2 over the batch, b -> T - b*T // (2B), as in the C++ benchmark), or
without a mask (--no-padding), optionally with attention dropout. PyTorch gets
q, k, v as contiguous [B, heads, T, d] leaf tensors, its preferred layout, so no
transposes are timed on its side. The same tokens/s and GFLOP/s counters as the
C++ benchmark (14 T L d flops per sequence and head for L valid keys). On the
CPU in fp32 by default; --device cuda --dtype bfloat16 times it on a GPU
(scripts/gpu_check.sh).

Run it with the same threads and environment as the C++ side, e.g.
    OMP_NUM_THREADS=2 python3 scripts/bench_pytorch_attention.py --threads 2
It prints one JSON line per sequence length.
PyTorch is a reference peer only: nothing in the engine or its tests needs it.
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

from bench_timing import seconds_per_iteration as measure, synchronizer


def key_lengths(batch, steps, padded):
    return [steps - b * steps // (2 * batch) if padded else steps for b in range(batch)]


def time_attention(args, steps):
    torch.manual_seed(17)
    shape = (args.batch, args.heads, steps, args.head_dim)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    sync = synchronizer(device)
    q = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
    k = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
    v = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
    dout = torch.randn(shape, device=device, dtype=dtype)
    lengths = key_lengths(args.batch, steps, args.padding)
    mask = None
    if args.padding:
        positions = torch.arange(steps)
        mask = (positions[None, :] < torch.tensor(lengths)[:, None]).view(args.batch, 1, 1, steps)
        mask = mask.to(device)

    def iteration():
        q.grad = k.grad = v.grad = None
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=args.dropout)
        out.backward(dout)
        sync()

    seconds_per_iteration, count = measure(iteration, args.seconds)
    flops = sum(14.0 * args.heads * steps * length * args.head_dim for length in lengths)
    return {
        "benchmark": "pytorch_sdpa_forward_backward",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "batch": args.batch,
        "heads": args.heads,
        "head_dim": args.head_dim,
        "steps": steps,
        "padded": args.padding,
        "dropout": args.dropout,
        "iterations": count,
        "ms_per_iteration": round(seconds_per_iteration * 1e3, 2),
        "tokens_per_s": round(args.batch * steps / seconds_per_iteration, 1),
        "gflop_per_s": round(flops / seconds_per_iteration / 1e9, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--steps", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--no-padding", dest="padding", action="store_false",
                        help="every key valid, no mask")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    for steps in args.steps:
        print(json.dumps(time_attention(args, steps)), flush=True)


if __name__ == "__main__":
    main()
