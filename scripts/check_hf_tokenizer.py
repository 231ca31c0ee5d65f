#!/usr/bin/env python3
"""Checks that Hugging Face's AutoTokenizer, loaded from a seqtrain tokenizer
or BERT checkpoint directory (its tokenizer.json), gives seqtrain's token ids
for every line of a text file: `seqtrain tokenizer encode` against
AutoTokenizer(line, add_special_tokens=False), and with the special tokens
([CLS] ... [SEP]) as BERT's inputs have them. Lines may spell out [MASK].
With --fill-mask (and torch installed), also runs pipeline("fill-mask") on a
line with [MASK] and prints its predictions.

Usage: check_hf_tokenizer.py SEQTRAIN DIR TEXT_FILE [--fill-mask]
Exit 0: every line agrees; 1: the first line that differs is printed; 77:
transformers or tokenizers is not installed (pip install tokenizers transformers)."""
import json
import subprocess
import sys

try:
    import transformers
    from transformers import AutoTokenizer
except ImportError:
    print("check_hf_tokenizer: SKIP (pip install tokenizers transformers)")
    sys.exit(77)

seqtrain, directory, text_file = sys.argv[1:4]
ours = subprocess.run([seqtrain, "tokenizer", "encode", "--tokenizer", directory,
                       "--input", text_file], check=True, capture_output=True, text=True).stdout
ours = [json.loads(line) for line in ours.splitlines()]
with open(text_file, encoding="utf-8") as source:
    lines = source.read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
assert len(lines) == len(ours), (len(lines), len(ours))

tokenizer = AutoTokenizer.from_pretrained(directory)
for number, (line, expected) in enumerate(zip(lines, ours), 1):
    got = tokenizer(line, add_special_tokens=False)["input_ids"]
    if got != expected:
        print(f"line {number} differs: {line!r}\n  seqtrain     {expected}\n  transformers {got}\n"
              f"  pieces {tokenizer.convert_ids_to_tokens(got)}")
        sys.exit(1)
    with_specials = tokenizer(line)["input_ids"]
    if with_specials != [2] + expected + [3]:
        print(f"line {number}: [CLS] ... [SEP] expected around the ids, got {with_specials}")
        sys.exit(1)
print(f"transformers {transformers.__version__}: AutoTokenizer gives seqtrain's ids on all "
      f"{len(lines)} lines")

if "--fill-mask" in sys.argv:
    try:
        import torch  # noqa: F401
    except ImportError:
        print("fill-mask: SKIP (torch is not installed)")
        sys.exit(0)
    from transformers import pipeline
    fill = pipeline("fill-mask", model=directory)
    masked = next((line for line in lines if "[MASK]" in line), "The [MASK] is here.")
    for prediction in fill(masked, top_k=5):
        print(f"  {prediction['score']:.3f}  {prediction['sequence']}")
