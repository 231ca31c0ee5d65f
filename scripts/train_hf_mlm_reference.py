#!/usr/bin/env python3
"""Pretrains a BertForMaskedLM with PyTorch and transformers on a seqtrain run's token shards.

The independent side of docs/mlm_pretraining.md's question "does seqtrain
learn as fast as the reference implementation?": the same data (SHARDS, a
seqtrain run's data/shards), the same model size and BERT's recipe as
configs/bert_tiny.yaml (AdamW, betas 0.9/0.999, eps 1e-6, weight decay 0.01
off LayerNorm and biases, linear warmup then linear decay to 0 at --steps,
clip 1.0, dropout 0.1, 15% masked 80/10/10), batches drawn and masked here
with numpy (documents shuffled every epoch, joined by [SEP], packed into
[CLS] + T-2 tokens + [SEP]). Every --eval-every steps it scores the
validation split as scripts/check_mlm_mask_accuracy.py does (seed 0 masks,
BERT's 80/10/10) and prints one JSON line, with the same names as seqtrain's
metrics.jsonl: mlm_loss, mlm_accuracy, mlm_accuracy_at_mask,
majority_token_accuracy_at_mask, mlm_loss_at_mask.

    python3 scripts/train_hf_mlm_reference.py runs/bert_tiny/data/shards \\
        --stop-after 2000 --threads 1 > hf_bert_tiny.jsonl
"""
import argparse
import json
import pathlib
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from check_mlm_mask_accuracy import (SEP, majority_accuracy, mask_sequences,  # noqa: E402
                                     packed_sequences, predictions, split_documents,
                                     validation_stream)


def training_batches(documents, length, batch_size, rng):
    """Endless (ids, lengths) batches: each epoch shuffles the documents, joins them by [SEP] and packs them."""
    while True:
        order = rng.permutation(len(documents))
        pieces = []
        for i, index in enumerate(order):
            if i > 0:
                pieces.append(np.array([SEP], dtype=np.int64))
            pieces.append(documents[index])
        packed, lengths = packed_sequences(np.concatenate(pieces), length)
        rows = rng.permutation(len(packed))
        for begin in range(0, len(rows) - batch_size + 1, batch_size):
            chosen = rows[begin:begin + batch_size]
            yield packed[chosen].copy(), lengths[chosen]


def model_and_optimizer(args, vocab_size):
    from transformers import BertConfig, BertForMaskedLM
    config = BertConfig(vocab_size=vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
                        max_position_embeddings=512, type_vocab_size=2, hidden_dropout_prob=0.1,
                        attention_probs_dropout_prob=0.1, pad_token_id=0)
    model = BertForMaskedLM(config)
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if "LayerNorm" in name or name.endswith("bias") else decay).append(parameter)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-6)

    def factor(step):
        if step < args.warmup:
            return (step + 1) / args.warmup
        return max(0.0, (args.steps - step) / (args.steps - args.warmup))

    return model, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def evaluate(model, validation, vocab_size, length):
    packed, lengths = validation
    ids = packed.copy()
    rows, columns, labels, is_mask = mask_sequences(ids, 0.15, vocab_size, False,
                                                    np.random.default_rng(0))
    model.eval()
    predicted, losses = predictions(model, ids, lengths, rows, columns, labels, 32)
    model.train()
    right = predicted == labels
    return {"split": "validation", "sequence_length": length, "masked_tokens": int(len(labels)),
            "mlm_loss": float(losses.mean()), "mlm_accuracy": float(right.mean()),
            "majority_token_accuracy": majority_accuracy(labels),
            "mask_input_tokens": int(is_mask.sum()),
            "mlm_accuracy_at_mask": float(right[is_mask].mean()),
            "majority_token_accuracy_at_mask": majority_accuracy(labels[is_mask]),
            "mlm_loss_at_mask": float(losses[is_mask].mean())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shards", type=pathlib.Path, help="a seqtrain mlm run's data/shards")
    parser.add_argument("--steps", type=int, default=16000,
                        help="schedule length (decay to 0 here; bert_tiny.yaml's 16000)")
    parser.add_argument("--stop-after", type=int, default=None, help="stop early, at this step")
    parser.add_argument("--warmup", type=int, default=160)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not (args.shards / "manifest.json").is_file():
        print(f"error: {args.shards}/manifest.json does not exist; pass a seqtrain mlm run's "
              f"data/shards directory", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    documents, vocab_size = split_documents(args.shards, "train")
    stream, _ = validation_stream(args.shards)
    validation = packed_sequences(stream, args.sequence_length)
    model, optimizer, schedule = model_and_optimizer(args, vocab_size)
    model.train()
    batches = training_batches(documents, args.sequence_length, args.batch_size, rng)
    last = args.stop_after or args.steps
    started = time.time()
    for step in range(1, last + 1):
        ids, lengths = next(batches)
        rows, columns, labels, _ = mask_sequences(ids, 0.15, vocab_size, False, rng)
        targets = np.full(ids.shape, -100, dtype=np.int64)
        targets[rows, columns] = labels
        attention = (np.arange(ids.shape[1])[None, :] < lengths[:, None]).astype(np.int64)
        loss = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(attention),
                     token_type_ids=torch.zeros_like(torch.from_numpy(ids)),
                     labels=torch.from_numpy(targets)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % args.eval_every == 0 or step == last:
            record = {"step": step, "seconds": round(time.time() - started, 1),
                      "train_mlm_loss": float(loss.detach())}
            record.update(evaluate(model, validation, vocab_size, args.sequence_length))
            print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
