#!/usr/bin/env python3
"""Scores a seqtrain BERT checkpoint's masked-LM accuracy with transformers, apart from seqtrain.

Loads CHECKPOINT (a `seqtrain train` checkpoint directory of an mlm run:
model.safetensors, config.json) with BertForMaskedLM.from_pretrained, packs
the validation split of the run's token shards (SHARDS: manifest.json,
validation-*.tokens, validation-*.documents; docs/data_formats.md) itself as
seqtrain does ([CLS] + T-2 tokens of the [SEP]-joined documents + [SEP]),
chooses round(mask_rate * n) of each sequence's maskable tokens ([UNK] and
learned pieces) with numpy's generator, and scores the argmax and the
cross-entropy at the chosen positions against the original tokens, two ways:

- bert: BERT's 80% [MASK] / 10% random / 10% unchanged, as seqtrain trains
  and reports mlm_accuracy; also the accuracy at the [MASK] inputs alone;
- all-mask: every chosen token becomes [MASK], so no answer is in the input:
  only context can beat the majority baseline.

Each accuracy comes with its majority baseline (always answering the most
frequent original token of the same positions), the loss at [MASK] inputs
with train_unigram_loss_at_mask, the cross-entropy there of the training
split's token frequencies (add-one smoothed): what a model that ignores the
context can reach. The masks are drawn here,
not by seqtrain, so the numbers agree with seqtrain's validation record up to
sampling noise (about 0.005 at 5,000 positions), not exactly.

    python3 scripts/check_mlm_mask_accuracy.py runs/bert_tiny/checkpoints/step_1000 \\
        runs/bert_tiny/data/shards [--sequence-length 128] [--seeds 0 1 2]
"""
import argparse
import collections
import json
import pathlib
import sys

import numpy as np
import torch

PAD, UNK, CLS, SEP, MASK, FIRST_REGULAR = 0, 1, 2, 3, 4, 5


def split_documents(shards, split):
    """The documents of a split of the token shards, as int64 arrays, and the vocabulary size."""
    manifest = json.loads((shards / "manifest.json").read_text())
    dtype = np.uint16 if manifest["token_dtype"] == "uint16" else np.int32
    pieces = []
    for shard in manifest["splits"][split]["shards"]:
        tokens = np.fromfile(shards / shard["tokens_file"], dtype=dtype).astype(np.int64)
        offsets = np.fromfile(shards / shard["documents_file"], dtype=np.int64)
        for begin, end in zip(offsets[:-1], offsets[1:]):
            pieces.append(tokens[begin:end])
    return pieces, manifest["vocab_size"]


def validation_stream(shards):
    """The validation documents joined by [SEP], as one int64 array."""
    pieces, vocab_size = split_documents(shards, "validation")
    stream = []
    for i, document in enumerate(pieces):
        if i > 0:
            stream.append(np.array([SEP], dtype=np.int64))
        stream.append(document)
    return np.concatenate(stream), vocab_size


def training_log_frequencies(shards):
    """ln p of each token id in the training split, add-one smoothed over the vocabulary."""
    pieces, vocab_size = split_documents(shards, "train")
    counts = np.bincount(np.concatenate(pieces), minlength=vocab_size).astype(np.float64) + 1.0
    return np.log(counts / counts.sum())


def packed_sequences(stream, length):
    """[CLS] S[i*C, (i+1)*C) [SEP], padded with [PAD] to length; and each row's length."""
    content = length - 2
    rows, lengths = [], []
    for begin in range(0, len(stream), content):
        piece = stream[begin:begin + content]
        row = np.full(length, PAD, dtype=np.int64)
        row[0] = CLS
        row[1:1 + len(piece)] = piece
        row[1 + len(piece)] = SEP
        rows.append(row)
        lengths.append(len(piece) + 2)
    return np.stack(rows), np.array(lengths)


def mask_sequences(ids, mask_rate, vocab_size, all_mask, rng):
    """Masks ids in place; returns (rows, columns, labels, input_is_mask) of the chosen tokens."""
    chosen_rows, chosen_columns, labels, is_mask = [], [], [], []
    capacity = max(1, int(np.floor(mask_rate * (ids.shape[1] - 2) + 0.5)))
    for row in range(ids.shape[0]):
        maskable = np.flatnonzero((ids[row] == UNK) | (ids[row] >= FIRST_REGULAR))
        if len(maskable) == 0:
            continue
        k = min(capacity, max(1, int(np.floor(mask_rate * len(maskable) + 0.5))))
        for column in np.sort(rng.choice(maskable, size=k, replace=False)):
            label = ids[row, column]
            draw = rng.random()
            if all_mask or draw < 0.8:
                ids[row, column] = MASK
            elif draw < 0.9:
                ids[row, column] = rng.integers(FIRST_REGULAR, vocab_size)
            chosen_rows.append(row)
            chosen_columns.append(column)
            labels.append(label)
            is_mask.append(ids[row, column] == MASK)
    return (np.array(chosen_rows), np.array(chosen_columns), np.array(labels),
            np.array(is_mask, dtype=bool))


def majority_accuracy(labels):
    return collections.Counter(labels.tolist()).most_common(1)[0][1] / len(labels) if len(
        labels) else 0.0


def predictions(model, ids, lengths, rows, columns, labels, batch_size):
    """The argmax token and the cross-entropy (nats) at each chosen position."""
    predicted = np.empty(len(rows), dtype=np.int64)
    losses = np.empty(len(rows), dtype=np.float64)
    attention = (np.arange(ids.shape[1])[None, :] < lengths[:, None]).astype(np.int64)
    with torch.no_grad():
        for begin in range(0, ids.shape[0], batch_size):
            end = min(begin + batch_size, ids.shape[0])
            logits = model(input_ids=torch.from_numpy(ids[begin:end]),
                           attention_mask=torch.from_numpy(attention[begin:end]),
                           token_type_ids=torch.zeros((end - begin, ids.shape[1]),
                                                      dtype=torch.long)).logits
            selected = (rows >= begin) & (rows < end)
            chosen = logits[torch.from_numpy(rows[selected] - begin),
                            torch.from_numpy(columns[selected])].double()
            predicted[selected] = chosen.argmax(dim=-1).numpy()
            losses[selected] = torch.nn.functional.cross_entropy(
                chosen, torch.from_numpy(labels[selected]), reduction="none").numpy()
    return predicted, losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=pathlib.Path,
                        help="checkpoint directory (model.safetensors, config.json)")
    parser.add_argument("shards", type=pathlib.Path,
                        help="the run's token shards (<run_dir>/data/shards)")
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--mask-rate", type=float, default=0.15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="mask draws to score (default 0)")
    args = parser.parse_args()
    for path in (args.checkpoint / "config.json", args.shards / "manifest.json"):
        if not path.is_file():
            print(f"error: {path} does not exist; pass a checkpoint directory and the run's "
                  f"data/shards directory", file=sys.stderr)
            return 2

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from check_hf_checkpoint import load_masked_lm
    model = load_masked_lm(args.checkpoint)
    if model is None:
        return 1
    torch.set_num_threads(1)
    stream, vocab_size = validation_stream(args.shards)
    log_frequencies = training_log_frequencies(args.shards)
    packed, lengths = packed_sequences(stream, args.sequence_length)

    results = []
    for seed in args.seeds:
        for mode in ("bert", "all-mask"):
            ids = packed.copy()
            rng = np.random.default_rng(seed)
            rows, columns, labels, is_mask = mask_sequences(ids, args.mask_rate, vocab_size,
                                                            mode == "all-mask", rng)
            predicted, losses = predictions(model, ids, lengths, rows, columns, labels,
                                            args.batch_size)
            right = predicted == labels
            result = {"seed": seed, "mode": mode, "sequence_length": args.sequence_length,
                      "masked_tokens": int(len(labels)),
                      "accuracy": float(right.mean()),
                      "majority_token_accuracy": majority_accuracy(labels),
                      "mask_input_tokens": int(is_mask.sum()),
                      "accuracy_at_mask": float(right[is_mask].mean()),
                      "majority_token_accuracy_at_mask": majority_accuracy(labels[is_mask]),
                      "loss": float(losses.mean()),
                      "loss_at_mask": float(losses[is_mask].mean()),
                      "train_unigram_loss_at_mask": float(-log_frequencies[labels[is_mask]].mean())}
            print(json.dumps(result))
            results.append(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
