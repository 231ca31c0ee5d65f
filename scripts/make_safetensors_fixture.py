#!/usr/bin/env python3
"""Writes tests/fixtures/python_written.safetensors with the Python `safetensors`
package, so the C++ reader is tested against the reference writer.

Every value is a formula the C++ test recomputes (tests/train_safetensors_test.cc):
  "encoder.weight"  F32  [3, 4]   w[i, j] = 0.5 * i - 0.25 * j + 0.125
  "encoder.bias"    BF16 [5]      b[k]    = (k - 2) * 0.375   (exact in bf16)
  "token_ids"       I32  [2, 3]   t[i, j] = 1000 * i - 7 * j
  "scale"           F32  []       1.5
  "empty"           F32  [0, 3]
metadata: {"format": "pt", "written_by": "make_safetensors_fixture.py"}

Usage: pip install safetensors torch; python3 scripts/make_safetensors_fixture.py
"""
import pathlib

import torch
from safetensors.torch import save_file

root = pathlib.Path(__file__).resolve().parent.parent
i = torch.arange(3, dtype=torch.float32).reshape(3, 1)
j = torch.arange(4, dtype=torch.float32).reshape(1, 4)
tensors = {
    "encoder.weight": 0.5 * i - 0.25 * j + 0.125,
    "encoder.bias": ((torch.arange(5, dtype=torch.float32) - 2) * 0.375).to(torch.bfloat16),
    "token_ids": (1000 * torch.arange(2).reshape(2, 1) - 7 * torch.arange(3).reshape(1, 3)).to(
        torch.int32),
    "scale": torch.tensor(1.5, dtype=torch.float32),
    "empty": torch.zeros(0, 3, dtype=torch.float32),
}
out = root / "tests" / "fixtures" / "python_written.safetensors"
save_file(tensors, str(out),
          metadata={"format": "pt", "written_by": "make_safetensors_fixture.py"})
print(f"wrote {out} ({out.stat().st_size} bytes)")
