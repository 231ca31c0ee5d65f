#!/usr/bin/env python3
"""Times PyTorch's LSTM layer on the shapes of bench/lstm_layer_bench.cc.

One nn.LSTM layer, fp32, time-major: batch 32, T 128, input 256, hidden 512,
forward + backward (gradients of the input and every weight), the same
tokens/s and GFLOP/s counters as the C++ benchmark. On the CPU by default;
--device cuda times it on a GPU (cuDNN's LSTM; scripts/gpu_check.sh).

Run it with the same threads and environment as the C++ side, e.g.
    OMP_NUM_THREADS=1 python3 scripts/bench_pytorch.py --threads 1
OPENBLAS_CORETYPE is left as the machine sets it (PyTorch's CPU GEMMs use
MKL or oneDNN here, not OpenBLAS; the script prints what it runs on).
PyTorch is a reference peer only: nothing in the engine or its tests needs it.
"""
import argparse
import json
import os

import torch

from bench_timing import seconds_per_iteration as measure, synchronizer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--input", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum timed seconds")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = synchronizer(device)

    torch.set_num_threads(args.threads)
    torch.manual_seed(17)
    lstm = torch.nn.LSTM(args.input, args.hidden).to(device)
    x = torch.randn(args.steps, args.batch, args.input, device=device, requires_grad=True)
    dy = torch.randn(args.steps, args.batch, args.hidden, device=device)

    def iteration():
        lstm.zero_grad(set_to_none=False)
        x.grad = None
        y, _ = lstm(x)
        y.backward(dy)
        sync()

    seconds_per_iteration, count = measure(iteration, args.seconds)
    tokens = args.steps * args.batch
    flops = 6.0 * tokens * 4 * args.hidden * (args.input + args.hidden)
    print(json.dumps({
        "benchmark": "pytorch_lstm_layer_forward_backward",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "iterations": count,
        "ms_per_iteration": round(seconds_per_iteration * 1e3, 2),
        "tokens_per_s": round(tokens / seconds_per_iteration, 1),
        "gflop_per_s": round(flops / seconds_per_iteration / 1e9, 2),
    }))


if __name__ == "__main__":
    main()
