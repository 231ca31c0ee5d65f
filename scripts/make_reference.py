#!/usr/bin/env python3
"""Writes PyTorch reference fixtures for the recurrent layer tests.

For each of nn.LSTM, nn.GRU and nn.RNN (tanh), two layers, bidirectional, run
on a PackedSequence of uneven lengths with nonzero initial states, it writes
tests/fixtures/rnn_reference_<cell>.safetensors holding

  input [T, B, I]          time-major, padded steps filled with noise (ignored)
  lengths [B] (I32)        uneven, including 1 and T
  h0, c0 [L*D, B, H]       initial states in PyTorch's (layer, direction) order
  weight_ih_l0, ...        every parameter under its PyTorch name
  output [T, B, D*H]       pad_packed_sequence of the output: zero past lengths
  h_n, c_n [L*D, B, H]     final states
  loss_weight.output, loss_weight.h_n, loss_weight.c_n
                           fixed random weights w of the scalar
                           loss = sum(w_output * output) + sum(w_h * h_n) + sum(w_c * c_n)
  grad.<name>              d loss / d every parameter, input, h0 and c0

(c0, c_n and their weights and gradients for LSTM only.) The metadata records
cell, sizes, layers, bidirectional and the parameter order of
named_parameters(). Inputs and weights are drawn in float32; the reference is
computed in float64 and stored as float32, so the fixtures carry no float32
rounding of PyTorch's own. tests/rnn_reference_test.cc loads them, builds the
same stack with models/recurrent_stack.h and compares every tensor on the
serial and cpu backends.

Usage (from anywhere; PyTorch and safetensors installed, no network needed):
    python3 scripts/make_reference.py            # writes the three fixtures
    python3 scripts/make_reference.py --check    # compares, writes nothing
The fixtures are committed; rerun only when the cases change. The seed is
fixed, so a rerun with the same PyTorch reproduces them bit for bit.
"""
import argparse
import json
import pathlib
import sys

import torch
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"

STEPS, BATCH, INPUT, HIDDEN, LAYERS = 7, 4, 5, 6, 2
LENGTHS = [7, 3, 5, 1]
MODULES = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}


def rnn_reference(cell, seed):
    """Tensors (float32 / int32) of one fixture, and its metadata."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(*shape, bound=1.0):
        return ((torch.rand(*shape, generator=generator) * 2 - 1) * bound).float().double()

    directions = 2
    module = MODULES[cell](INPUT, HIDDEN, num_layers=LAYERS, bidirectional=True).double()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(uniform(*parameter.shape, bound=HIDDEN ** -0.5))
    lstm = cell == "lstm"
    states = LAYERS * directions
    x = uniform(STEPS, BATCH, INPUT).requires_grad_()
    h0 = uniform(states, BATCH, HIDDEN).requires_grad_()
    c0 = uniform(states, BATCH, HIDDEN).requires_grad_() if lstm else None
    lengths = torch.tensor(LENGTHS, dtype=torch.int64)

    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    packed_output, final = module(packed, (h0, c0) if lstm else h0)
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_output, total_length=STEPS)
    h_n, c_n = final if lstm else (final, None)

    weights = {"output": uniform(*output.shape), "h_n": uniform(*h_n.shape)}
    loss = (weights["output"] * output).sum() + (weights["h_n"] * h_n).sum()
    if lstm:
        weights["c_n"] = uniform(*c_n.shape)
        loss = loss + (weights["c_n"] * c_n).sum()
    loss.backward()

    tensors = {"input": x, "lengths": lengths.to(torch.int32), "h0": h0, "output": output,
               "h_n": h_n}
    if lstm:
        tensors.update({"c0": c0, "c_n": c_n})
    for name, value in weights.items():
        tensors[f"loss_weight.{name}"] = value
    names = []
    for name, parameter in module.named_parameters():
        names.append(name)
        tensors[name] = parameter
        tensors[f"grad.{name}"] = parameter.grad
    tensors["grad.input"] = x.grad
    tensors["grad.h0"] = h0.grad
    if lstm:
        tensors["grad.c0"] = c0.grad
    tensors = {name: (value.detach().float() if value.dtype == torch.float64 else value.detach())
               .contiguous() for name, value in tensors.items()}
    metadata = {
        "cell": cell, "steps": str(STEPS), "batch": str(BATCH), "input_size": str(INPUT),
        "hidden_size": str(HIDDEN), "layers": str(LAYERS), "bidirectional": "true",
        "parameter_order": json.dumps(names), "loss": repr(loss.item()),
        "written_by": "scripts/make_reference.py", "torch": torch.__version__,
    }
    return tensors, metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed fixtures instead of writing")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    failures = 0
    for seed, cell in enumerate(MODULES, start=2024):
        tensors, metadata = rnn_reference(cell, seed)
        path = FIXTURES / f"rnn_reference_{cell}.safetensors"
        if args.check:
            stored = load_file(str(path))
            worst = max((stored[name].double() - value.double()).abs().max().item()
                        for name, value in tensors.items())
            same = set(stored) == set(tensors)
            print(f"{path.name}: {'same names' if same else 'names differ'}, "
                  f"largest difference {worst:.3g}")
            failures += (not same) or worst > 1e-6
            continue
        FIXTURES.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=metadata)
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes, "
              f"{len(tensors)} tensors)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
