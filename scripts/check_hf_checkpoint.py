#!/usr/bin/env python3
"""Loads a seqtrain BERT checkpoint in Hugging Face transformers and compares logits.

DIR holds model.safetensors and config.json as seqtrain writes them
(models/bert_checkpoint.h). The script loads DIR with
BertForMaskedLM.from_pretrained, fails if transformers reports missing,
unexpected or mismatched weights, and runs the model in evaluation mode:

- with DIR/seqtrain_logits.safetensors (input_ids, token_type_ids, lengths,
  masked_positions, masked_labels, logits, loss: what seqtrain computed on that
  batch), it runs the same batch (attention_mask from lengths) and compares the
  logits at the masked positions and the loss; it fails if the largest
  |difference| exceeds --tolerance;
- without it, it runs a random batch and reports that the checkpoint loads and
  gives finite logits.

Writing a directory to check (the reference test exports a seqtrain model):
    SEQTRAIN_HF_EXPORT_DIR=/tmp/bert_export \\
        build/release/tests/seqtrain_tests \\
        --gtest_filter=BertReference.ExportedCheckpointReadsBackToTheSameModel
    python3 scripts/check_hf_checkpoint.py /tmp/bert_export
A checkpoint directory of `seqtrain train` with an mlm task works the same
(without seqtrain_logits.safetensors: the load check only). The same check
runs from scripts/make_reference.py --check-checkpoint DIR.
"""
import argparse
import pathlib
import sys

import torch
from safetensors.torch import load_file


def load_masked_lm(directory, **options):
    """BertForMaskedLM.from_pretrained(directory) in evaluation mode, or None
    after printing which weights transformers did not load."""
    from transformers import BertForMaskedLM
    model, info = BertForMaskedLM.from_pretrained(directory, output_loading_info=True, **options)
    problems = {key: value for key, value in info.items() if value}
    if problems:
        print(f"error: transformers did not load every weight of {directory}: {problems}",
              file=sys.stderr)
        return None
    return model.eval()


def check_checkpoint(directory, tolerance=1e-4):
    """The check this script runs on one directory; returns the exit status."""
    directory = pathlib.Path(directory)
    for name in ("model.safetensors", "config.json"):
        if not (directory / name).is_file():
            print(f"error: {directory / name} does not exist; pass a directory that seqtrain "
                  f"exported", file=sys.stderr)
            return 2

    model = load_masked_lm(directory, attn_implementation="eager")
    if model is None:
        return 1
    tied = model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    print(f"loaded {directory}: {sum(p.numel() for p in model.parameters())} parameters, "
          f"decoder tied to the word embeddings: {tied}")
    if not tied:
        print("error: the decoder is not tied to the word embeddings", file=sys.stderr)
        return 1

    reference_path = directory / "seqtrain_logits.safetensors"
    if not reference_path.is_file():
        config = model.config
        generator = torch.Generator().manual_seed(0)
        ids = torch.randint(0, config.vocab_size, (2, min(16, config.max_position_embeddings)),
                            generator=generator)
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        finite = bool(torch.isfinite(logits).all())
        print(f"no {reference_path.name}: ran a random batch, logits finite: {finite}")
        return 0 if finite else 1

    reference = load_file(str(reference_path))
    ids = reference["input_ids"].long()
    batch, length = ids.shape
    lengths = reference["lengths"].long()
    attention_mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    positions = reference["masked_positions"].long()
    labels = reference["masked_labels"].long()
    full_labels = torch.full((batch * length,), -100, dtype=torch.int64)
    used = labels != -100
    full_labels[positions[used]] = labels[used]
    with torch.no_grad():
        output = model(input_ids=ids, token_type_ids=reference["token_type_ids"].long(),
                       attention_mask=attention_mask, labels=full_labels.view(batch, length))
    logits = output.logits.reshape(batch * length, -1)[positions]
    logit_difference = (logits - reference["logits"]).abs().max().item()
    loss_difference = abs(output.loss.item() - reference["loss"].item())
    print(f"{positions.numel()} masked slots x {logits.shape[1]} logits: max |diff| "
          f"{logit_difference:.3g} (logits up to {reference['logits'].abs().max().item():.3g}); "
          f"loss transformers {output.loss.item():.6f} seqtrain {reference['loss'].item():.6f} "
          f"(|diff| {loss_difference:.3g})")
    if logit_difference > tolerance or loss_difference > tolerance:
        print(f"error: differences above the tolerance {tolerance}", file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=pathlib.Path,
                        help="directory with model.safetensors and config.json")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest accepted |logit difference| (default 1e-4)")
    args = parser.parse_args()
    return check_checkpoint(args.directory, args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
