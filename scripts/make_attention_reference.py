#!/usr/bin/env python3
"""Writes the PyTorch reference fixture for causal attention.

torch.nn.functional.scaled_dot_product_attention on fixed random inputs, in
seqtrain's fused layout, written to tests/fixtures/attention_reference_causal.safetensors:

  qkv [B, T, 3, H, d]          q | k | v of every token (seqtrain's attention op input)
  dcontext [B, T, H * d]       fixed random weights w of the scalar loss = sum(w * context)
  <case>.lengths [B] (I32)     key lengths
  <case>.context [B, T, H * d] SDPA's output, heads concatenated
  <case>.log_sum_exp [B, H, T] log sum_j exp(s_ij) over the keys the query sees
  <case>.dqkv [B, T, 3, H, d]  d loss / d qkv (autograd through SDPA)

for two cases:
  causal         is_causal=True, every key length T
  causal_padded  the causal mask and key padding (keys j >= L_b masked) as one
                 boolean attn_mask (SDPA takes is_causal or attn_mask, not both);
                 lengths T and 13, so padded queries still attend to their keys

The metadata records batch, steps, heads, head_dim. Inputs are drawn in float32;
the reference is computed in float64 and stored as float32. log_sum_exp is
computed here with torch.logsumexp over the same masked scores (SDPA does not
return it). tests/attention_reference_test.cc runs the attention op with causal
on the serial and cpu backends (and the CUDA kernels on the emulated device)
and compares every tensor.

Usage (PyTorch and safetensors installed, no network needed):
    python3 scripts/make_attention_reference.py           # writes the fixture
    python3 scripts/make_attention_reference.py --check   # compares, writes nothing
The fixture is committed; rerun only when the cases change. The seed is fixed.
"""
import argparse
import pathlib
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "attention_reference_causal.safetensors"

# T 37 crosses every backend's tile edges unevenly; d 32 is a head size the
# CUDA kernels are built for.
BATCH, STEPS, HEADS, HEAD_DIM = 2, 37, 2, 32
CASES = {"causal": [STEPS, STEPS], "causal_padded": [STEPS, 13]}


def attention_case(qkv32, dcontext32, lengths):
    """context, log_sum_exp and dqkv (float64) of one case."""
    qkv = qkv32.double().requires_grad_()
    # [B, T, 3, H, d] -> q, k, v [B, H, T, d]
    q, k, v = (qkv[:, :, part].transpose(1, 2) for part in range(3))
    steps = qkv.shape[1]
    causal = torch.ones(steps, steps, dtype=torch.bool).tril()
    if all(length == steps for length in lengths):
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        mask = causal.expand(len(lengths), 1, steps, steps)
    else:
        keys = torch.arange(steps)
        padding = torch.stack([keys < length for length in lengths])  # [B, T keys]
        mask = causal[None, None] & padding[:, None, None, :]  # [B, 1, T, T]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    context = out.transpose(1, 2).reshape(qkv.shape[0], steps, -1)  # [B, T, H * d]
    (context * dcontext32.double()).sum().backward()
    scores = (q @ k.transpose(-1, -2)) / (q.shape[-1] ** 0.5)
    log_sum_exp = scores.masked_fill(~mask, float("-inf")).logsumexp(-1)  # [B, H, T]
    return context.detach(), log_sum_exp.detach(), qkv.grad


def fixture_tensors():
    generator = torch.Generator().manual_seed(20261207)
    qkv = torch.randn(BATCH, STEPS, 3, HEADS, HEAD_DIM, generator=generator) * 1.5
    dcontext = torch.randn(BATCH, STEPS, HEADS * HEAD_DIM, generator=generator)
    tensors = {"qkv": qkv, "dcontext": dcontext}
    for name, lengths in CASES.items():
        context, log_sum_exp, dqkv = attention_case(qkv, dcontext, lengths)
        tensors[f"{name}.lengths"] = torch.tensor(lengths, dtype=torch.int32)
        tensors[f"{name}.context"] = context
        tensors[f"{name}.log_sum_exp"] = log_sum_exp
        tensors[f"{name}.dqkv"] = dqkv
    return {name: (value.float() if value.is_floating_point() else value).contiguous()
            for name, value in tensors.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed fixture instead of writing it")
    args = parser.parse_args()
    tensors = fixture_tensors()
    metadata = {"batch": str(BATCH), "steps": str(STEPS), "heads": str(HEADS),
                "head_dim": str(HEAD_DIM), "torch": torch.__version__}
    if args.check:
        committed = load_file(FIXTURE)
        worst = max((tensors[name] - committed[name]).abs().max().item() for name in tensors
                    if tensors[name].is_floating_point())
        print(f"{FIXTURE.name}: largest difference {worst:.3g}")
        return 0 if worst <= 1e-6 else 1
    save_file(tensors, FIXTURE, metadata=metadata)
    print(f"wrote {FIXTURE.relative_to(ROOT)} ({len(tensors)} tensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
