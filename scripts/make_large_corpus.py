#!/usr/bin/env python3
"""Writes a large text corpus for measuring data preparation: the documents
(blank-line-separated blocks) of a source corpus, shuffled anew for each copy
(seeded), until the output reaches the requested size. With --perturb P, each
word is replaced with probability P by a word drawn from the source's word
frequencies, so that lines do not repeat (SentencePiece keeps one copy of a
repeated line, which would understate its memory on real text).

Usage: scripts/make_large_corpus.py SOURCE OUT --mb 2000 [--files 4] [--seed 0] [--perturb 0.3]
With --files N, OUT is a directory of N files (part-000.txt, ...) of about
equal size. Skips the work when the output already has the requested size.
"""
import argparse
import os
import random


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--mb", type=float, required=True, help="output size in MB (1e6 bytes)")
    parser.add_argument("--files", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--perturb", type=float, default=0.0)
    args = parser.parse_args()

    with open(args.source, encoding="utf-8") as source:
        documents = [block.strip("\n") for block in source.read().split("\n\n") if block.strip()]
    target = int(args.mb * 1e6)
    paths = ([args.out] if args.files == 1 else
             [os.path.join(args.out, f"part-{i:03d}.txt") for i in range(args.files)])
    if all(os.path.exists(p) for p in paths) and \
            sum(os.path.getsize(p) for p in paths) >= target:
        return
    if args.files > 1:
        os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    words = [word for document in documents for word in document.split()]

    def perturbed(document):
        lines = []
        for line in document.split("\n"):
            tokens = line.split(" ")
            for i in range(len(tokens)):
                if tokens[i] and rng.random() < args.perturb:
                    tokens[i] = rng.choice(words)
            lines.append(" ".join(tokens))
        return "\n".join(lines)

    per_file = target // len(paths)
    for path in paths:
        written = 0
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            while written < per_file:
                rng.shuffle(documents)
                copy = [perturbed(d) for d in documents] if args.perturb > 0 else documents
                block = "\n\n".join(copy) + "\n\n"
                out.write(block)
                written += len(block.encode("utf-8"))
        os.replace(path + ".tmp", path)
    total = sum(os.path.getsize(p) for p in paths)
    print(f"corpus: {args.out} ({total / 1e6:.0f} MB in {len(paths)} file(s))")


if __name__ == "__main__":
    main()
