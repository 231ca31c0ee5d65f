#!/usr/bin/env python3
"""Times one bert_mini masked-LM training step of Hugging Face's BertForMaskedLM.

The PyTorch side of bench/bert_step_bench.cc: 4 layers, hidden 256, 4 heads,
intermediate 1024, fp32, batch 32, T 128, training mode (dropout 0.1 on hidden
states and attention probabilities). One step = zero_grad, forward with labels
(the model's own masked-LM loss), backward, clip_grad_norm_(1.0), AdamW
(lr 1e-4, betas 0.9/0.999, eps 1e-6, weight decay 0.01 off biases and
LayerNorm, as BERT's recipe). The batch has the C++ benchmark's layout: key
lengths fall evenly from T to T/2 + 2 (b -> T - b*T // (2B)), given as
attention_mask; [CLS] tokens [SEP] [PAD]...; k = round(0.15 * (length - 2))
tokens of each row masked (80% [MASK], 10% random, 10% unchanged), labels -100
elsewhere.

--decoder all (default) is what BertForMaskedLM users run: the MLM head
(transform + decoder over the vocabulary) on all B*T positions.
--decoder masked gathers the P = round(0.15 * (T - 2)) slots per row first
(unused slots pointing at the row's [CLS] with label -100), as seqtrain and
NVIDIA's BERT pretraining do, so both sides do the same arithmetic.

Counters: ms per step (wall), CPU ms per step (the whole process, all threads:
a loaded machine inflates it less), tokens/s (B*T per step, padding included, as the C++
side), and memory: the process's resident set after importing torch and
transformers and before building the model (baseline), its peak
(resource.getrusage ru_maxrss) after the timed steps, and their difference.
Run one configuration per process when reading the peak.

Run it with the same threads and environment as the C++ side, e.g.
    OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 python3 scripts/bench_pytorch_bert.py --threads 1
It prints one JSON line. PyTorch is a reference peer only: nothing in the
engine or its tests needs it.
"""
import argparse
import json
import os
import resource
import time

import torch
import torch.nn.functional as F
import transformers
from transformers import BertConfig, BertForMaskedLM

from bench_timing import seconds_per_iteration as measure, synchronizer

PAD, CLS, SEP, MASK, FIRST_REGULAR = 0, 2, 3, 4, 5  # seqtrain's special token ids
IGNORE = -100


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_resident_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def masked_per_sequence(steps, rate=0.15):
    return max(1, int(rate * (steps - 2) + 0.5))


def random_batch(args, generator):
    """input_ids, attention_mask, token_type_ids, labels [B, T], and the
    masked slots [B * P] (positions b*T + t, labels) of the seqtrain layout."""
    batch, steps, vocab = args.batch, args.steps, args.vocab
    capacity = masked_per_sequence(steps)
    lengths = [steps - b * steps // (2 * batch) for b in range(batch)]
    input_ids = torch.full((batch, steps), PAD, dtype=torch.long)
    attention_mask = torch.zeros((batch, steps), dtype=torch.long)
    labels = torch.full((batch, steps), IGNORE, dtype=torch.long)
    slot_positions = torch.zeros(batch * capacity, dtype=torch.long)
    slot_labels = torch.full((batch * capacity,), IGNORE, dtype=torch.long)
    for b, length in enumerate(lengths):
        row = torch.randint(FIRST_REGULAR, vocab, (length,), generator=generator)
        row[0], row[length - 1] = CLS, SEP
        maskable = length - 2
        k = min(capacity, max(1, int(0.15 * maskable + 0.5)))
        chosen = torch.sort(torch.randperm(maskable, generator=generator)[:k] + 1).values
        labels[b, chosen] = row[chosen]
        draw = torch.rand(k, generator=generator)
        replaced = row[chosen].clone()
        replaced[draw < 0.8] = MASK
        random_tokens = (draw >= 0.8) & (draw < 0.9)
        replaced[random_tokens] = torch.randint(
            FIRST_REGULAR, vocab, (int(random_tokens.sum()),), generator=generator)
        row[chosen] = replaced
        input_ids[b, :length] = row
        attention_mask[b, :length] = 1
        slot_positions[b * capacity:(b + 1) * capacity] = b * steps
        slot_positions[b * capacity:b * capacity + k] = b * steps + chosen
        slot_labels[b * capacity:b * capacity + k] = labels[b, chosen]
    token_type_ids = torch.zeros((batch, steps), dtype=torch.long)
    return input_ids, attention_mask, token_type_ids, labels, slot_positions, slot_labels, lengths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--vocab", type=int, default=8000,
                        help="8000: configs/bert_mini.yaml's tokenizer; 30522: BERT's WordPiece")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=128, help="sequence length T")
    parser.add_argument("--decoder", choices=["all", "masked"], default="all")
    parser.add_argument("--iterations", type=int, default=5, help="timed steps (after 2 warm-up)")
    parser.add_argument("--model", choices=["mini", "base"], default="mini",
                        help="bert_mini (4 x 256) or bert_base (12 x 768)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (scripts/gpu_check.sh)")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = synchronizer(device)
    hidden, layers, heads = (256, 4, 4) if args.model == "mini" else (768, 12, 12)

    torch.set_num_threads(args.threads)
    baseline = resident_bytes()
    torch.manual_seed(1234)
    generator = torch.Generator().manual_seed(1234)
    config = BertConfig(vocab_size=args.vocab, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=4 * hidden,
                        max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                        layer_norm_eps=1e-12, pad_token_id=PAD)
    model = BertForMaskedLM(config).to(device)
    model.train()
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=1e-4, betas=(0.9, 0.999), eps=1e-6)
    (input_ids, attention_mask, token_type_ids, labels, slot_positions, slot_labels,
     lengths) = random_batch(args, generator)
    input_ids, attention_mask, token_type_ids, labels, slot_positions, slot_labels = (
        t.to(device) for t in (input_ids, attention_mask, token_type_ids, labels, slot_positions,
                               slot_labels))

    def loss_all_positions():
        return model(input_ids=input_ids, attention_mask=attention_mask,
                     token_type_ids=token_type_ids, labels=labels).loss

    def loss_masked_slots():
        hidden = model.bert(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids).last_hidden_state
        gathered = hidden.reshape(-1, config.hidden_size).index_select(0, slot_positions)
        logits = model.cls(gathered)
        return F.cross_entropy(logits, slot_labels, ignore_index=IGNORE)

    loss_of_step = loss_all_positions if args.decoder == "all" else loss_masked_slots

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of_step()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        sync()

    for _ in range(2):  # warm-up, untimed
        step()
    cpu_start = time.process_time()
    seconds, count = measure(step, 0.0, warmup=0, min_iterations=args.iterations)
    cpu_seconds = (time.process_time() - cpu_start) / count
    peak = peak_resident_bytes()
    parameters = sum(p.numel() for p in model.parameters())
    mib = 1.0 / 1048576
    print(json.dumps({
        "benchmark": f"pytorch_bert_{args.model}_training_step",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "attn_implementation": model.config._attn_implementation,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "vocab": args.vocab,
        "decoder": args.decoder,
        "batch": args.batch,
        "steps": args.steps,
        "masked": int((labels != IGNORE).sum()),
        "key_tokens": sum(lengths),
        "parameters": parameters,
        "iterations": count,
        "ms_per_step": round(seconds * 1e3, 1),
        "cpu_ms_per_step": round(cpu_seconds * 1e3, 1),
        "tokens_per_s": round(args.batch * args.steps / seconds, 1),
        "baseline_rss_MiB": round(baseline * mib, 1),
        "peak_rss_MiB": round(peak * mib, 1),
        "peak_minus_baseline_MiB": round((peak - baseline) * mib, 1),
    }), flush=True)


if __name__ == "__main__":
    main()
