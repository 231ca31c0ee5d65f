#!/usr/bin/env python3
"""Writes PyTorch / Hugging Face reference fixtures for the model tests.

Recurrent layers. For each of nn.LSTM, nn.GRU and nn.RNN (tanh), two layers, bidirectional, run
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

BERT. A small random BertForMaskedLM (transformers; vocab 50, hidden 64, 2
layers, 2 heads of 32, intermediate 96, 16 positions, dropout 0, eager
attention, float64) on a padded batch with masked positions, written to
tests/fixtures/bert_reference.safetensors:

  <HF name>                every parameter under its named_parameters() name
                           (the tied decoder appears once, as the word embeddings
                           and cls.predictions.bias)
  input.input_ids, input.token_type_ids [B, T] (I32)
  input.lengths [B] (I32)  uneven; attention_mask = t < length
  input.masked_positions, input.masked_labels [B * P] (I32)
                           as data/mlm_batch.h lays them out: flat b*T + t,
                           unused slots at the row's [CLS] with label -100
  logits [B * P, V]        HF's prediction scores at the masked slots
  loss [1]                 HF's masked-LM loss (labels -100 off the masked slots)
  grad.<HF name>           d loss / d every parameter

with metadata config (HF's config.json), batch, length, masked_per_sequence.
Weights are drawn in float32 at a scale where every parameter moves the loss;
the reference is computed in float64 and stored as float32.
tests/bert_reference_test.cc loads it, maps the weights with
bert_from_hf_tensors and compares logits, loss and gradients (Q, K and V after
splitting seqtrain's fused gradient) on the serial and cpu backends.

Usage (from anywhere; PyTorch, safetensors and transformers installed, no
network needed):
    python3 scripts/make_reference.py            # writes every fixture
    python3 scripts/make_reference.py --check    # compares, writes nothing
    python3 scripts/make_reference.py --only bert   # or --only rnn
    python3 scripts/make_reference.py --check-checkpoint DIR
        # a seqtrain BERT checkpoint (or export) loads in transformers and gives
        # seqtrain's logits: scripts/check_hf_checkpoint.py, which says how to
        # write such a directory
The fixtures are committed; rerun only when the cases change. The seeds are
fixed, so a rerun with the same PyTorch and transformers reproduces them bit
for bit. (BERT needs transformers; the recurrent part does not.)
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


BERT_CONFIG = dict(vocab_size=50, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                   intermediate_size=96, max_position_embeddings=16, type_vocab_size=2,
                   hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                   layer_norm_eps=1e-12, initializer_range=0.02, pad_token_id=0)
BERT_LENGTH, BERT_MASKED_PER_SEQUENCE = 12, 4
BERT_LENGTHS = [12, 9, 5]
BERT_MASKED = [[2, 5, 7, 10], [1, 6], []]  # masked positions t of each row
PAD, CLS, SEP, MASK, FIRST_WORD = 0, 1, 2, 3, 5


def bert_batch(generator):
    """input_ids, token_type_ids, lengths, masked_positions, masked_labels (int64)."""
    batch, length, slots = len(BERT_LENGTHS), BERT_LENGTH, BERT_MASKED_PER_SEQUENCE
    vocab = BERT_CONFIG["vocab_size"]
    ids = torch.full((batch, length), PAD, dtype=torch.int64)
    types = torch.zeros(batch, length, dtype=torch.int64)
    positions, labels = [], []
    for b, row_length in enumerate(BERT_LENGTHS):
        ids[b, 0], ids[b, row_length - 1] = CLS, SEP
        ids[b, 1:row_length - 1] = torch.randint(FIRST_WORD, vocab, (row_length - 2,),
                                                 generator=generator)
        types[b, row_length // 2:row_length] = 1  # a second segment, to use token types
        for k, t in enumerate(BERT_MASKED[b]):
            positions.append(b * length + t)
            labels.append(int(ids[b, t]))
            if k % 3 != 2:  # some masked positions keep their token
                ids[b, t] = MASK
        for _ in range(slots - len(BERT_MASKED[b])):
            positions.append(b * length)
            labels.append(-100)
    return (ids, types, torch.tensor(BERT_LENGTHS, dtype=torch.int64),
            torch.tensor(positions, dtype=torch.int64), torch.tensor(labels, dtype=torch.int64))


def bert_reference(seed):
    """Tensors (float32 / int32) of the BERT fixture, and its metadata."""
    import transformers
    from transformers import BertConfig, BertForMaskedLM

    generator = torch.Generator().manual_seed(seed)

    def uniform(*shape, bound):
        return ((torch.rand(*shape, generator=generator) * 2 - 1) * bound).float().double()

    config = BertConfig(**BERT_CONFIG, attn_implementation="eager")
    torch.manual_seed(seed)
    model = BertForMaskedLM(config).double()
    model.eval()  # no dropout; autograd still records the graph for the gradients
    names = []
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            names.append(name)
            if "LayerNorm.weight" in name:
                parameter.copy_(1.0 + uniform(*parameter.shape, bound=0.3))
            elif name.endswith("bias"):
                parameter.copy_(uniform(*parameter.shape, bound=0.1))
            elif "embeddings" in name:
                parameter.copy_(uniform(*parameter.shape, bound=0.5))
            else:
                parameter.copy_(uniform(*parameter.shape, bound=0.2))

    ids, types, lengths, positions, labels = bert_batch(generator)
    batch, length = ids.shape
    attention_mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    full_labels = torch.full((batch * length,), -100, dtype=torch.int64)
    used = labels != -100
    full_labels[positions[used]] = labels[used]
    output = model(input_ids=ids, attention_mask=attention_mask, token_type_ids=types,
                   labels=full_labels.view(batch, length))
    output.loss.backward()
    logits = output.logits.reshape(batch * length, -1)[positions]

    tensors = {
        "input.input_ids": ids, "input.token_type_ids": types, "input.lengths": lengths,
        "input.masked_positions": positions, "input.masked_labels": labels,
        "logits": logits, "loss": output.loss.reshape(1),
    }
    for name, parameter in model.named_parameters():
        tensors[name] = parameter
        tensors[f"grad.{name}"] = parameter.grad
    tensors = {name: (value.detach().float() if value.is_floating_point()
                      else value.detach().to(torch.int32)).contiguous()
               for name, value in tensors.items()}
    metadata = {
        "config": config.to_json_string(use_diff=False),
        "batch": str(batch), "length": str(length),
        "masked_per_sequence": str(BERT_MASKED_PER_SEQUENCE),
        "parameter_order": json.dumps(names), "loss": repr(output.loss.item()),
        "written_by": "scripts/make_reference.py", "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return tensors, metadata


def fixtures(only):
    """(file name, seed, function) of every fixture selected by --only."""
    chosen = []
    if only in (None, "rnn"):
        for seed, cell in enumerate(MODULES, start=2024):
            chosen.append((f"rnn_reference_{cell}.safetensors",
                           lambda s=seed, c=cell: rnn_reference(c, s)))
    if only in (None, "bert"):
        chosen.append(("bert_reference.safetensors", lambda: bert_reference(4242)))
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed fixtures instead of writing")
    parser.add_argument("--only", choices=["rnn", "bert"],
                        help="write or check only these fixtures")
    parser.add_argument("--check-checkpoint", type=pathlib.Path, metavar="DIR",
                        help="instead: check that the seqtrain BERT checkpoint DIR loads in "
                             "transformers with seqtrain's logits (check_hf_checkpoint.py)")
    args = parser.parse_args()
    if args.check_checkpoint is not None:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
        from check_hf_checkpoint import check_checkpoint
        return check_checkpoint(args.check_checkpoint)
    torch.use_deterministic_algorithms(True)
    failures = 0
    for file_name, make in fixtures(args.only):
        tensors, metadata = make()
        path = FIXTURES / file_name
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
