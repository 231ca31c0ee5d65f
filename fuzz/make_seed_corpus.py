#!/usr/bin/env python3
"""Writes the seed corpora of the fuzzers into fuzz/corpus/<harness>/ (the
committed ones were made by this script; rerun it after a format changes).

Seeds are small: the shipped configs, tiny files in each format written here
from the format's documentation (docs/data_formats.md, src/io/safetensors.h),
and a few damaged variants. The input form of the multi-file harnesses is
described in fuzz/fuzz_input.h ("%%file NAME" marker lines).

Usage: fuzz/make_seed_corpus.py [--trainer-state-fuzzer BUILD/fuzz/trainer_state_fuzzer]
"""
import argparse
import json
import os
import pathlib
import struct
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def files(main, **named):
    """The input form: main file, then "%%file NAME" sections."""
    out = main if isinstance(main, bytes) else main.encode()
    for name, data in named.items():
        data = data if isinstance(data, bytes) else data.encode()
        out += b"\n%%file " + name.encode() + b"\n" + data
    return out


def write(harness, name, data):
    directory = CORPUS / harness
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] -> file bytes."""
    header, offset, data = {}, 0, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def run_config():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        write("run_config", path.stem, path.read_bytes())
    charlm = (ROOT / "configs" / "lstm_charlm.yaml").read_text()
    write("run_config", "charlm_with_sets", files(charlm, set="training.steps=5\n"
          "training.optimizer.betas=[0.9,0.98]\nmodel={cell: gru, hidden_size: 8}\n"
          "data.phases=[{steps: 2, sequence_length: 16, batch_size: 4}]\nrun_dir=\n"))
    write("run_config", "minimal_adding", "task: adding\n")
    write("run_config", "flow_style",
          "{task: classification, data: {train_path: t.tsv, batch_size: 8}, "
          "training: {steps: 3, keep_best: accuracy, early_stopping: {metric: loss, patience: 2}}}\n")
    write("run_config", "anchors_and_null",
          "task: charlm\ndata: &d {path: x.txt, sequence_length: 8}\nmodel: {layers: 2, "
          "hidden_size: 16}\ntraining: {steps: 2, init_from: null, schedule: {decay: linear}}\n")


def safetensors_seeds():
    f32 = struct.pack("<6f", 1, -2, 3.5, 0, 1e-30, 3e38)
    write("safetensors", "f32_matrix", safetensors([("weight", "F32", [2, 3], f32)], {"format": "pt"}))
    write("safetensors", "three_dtypes", safetensors([
        ("a", "F32", [2], struct.pack("<2f", 1, 2)),
        ("b", "BF16", [3], struct.pack("<3H", 0x3F80, 0xC000, 0x7F80)),
        ("c", "I32", [1, 2], struct.pack("<2i", -1, 7)),
        ("empty", "F32", [0, 4], b""),
        ("scalar", "F32", [], struct.pack("<f", 9))]))
    write("safetensors", "empty_header", safetensors([]))
    write("safetensors", "metadata_only", safetensors([], {"note": "x", "format": "pt"}))
    good = safetensors([("w", "F32", [2], struct.pack("<2f", 1, 2))])
    write("safetensors", "truncated", good[:-3])
    small = ROOT / "tests" / "fixtures" / "python_written.safetensors"
    write("safetensors", "python_written", small.read_bytes())


def trainer_state_seeds(fuzzer):
    if fuzzer:
        with tempfile.TemporaryDirectory() as tmp:
            seed = pathlib.Path(tmp) / "seed"
            subprocess.run([fuzzer, "-runs=0"], check=True, capture_output=True,
                           env=dict(os.environ, SEQTRAIN_FUZZ_WRITE_SEED=str(seed)))
            saved = seed.read_bytes()
            write("trainer_state", "saved", saved)
            state = json.loads(saved.split(b"\n%%file ")[0])
    else:
        state = json.loads((CORPUS / "trainer_state" / "saved").read_bytes().split(b"\n%%file ")[0])
    # Checkpoints written before trainer_state.safetensors: carried state in JSON
    # (an LSTM layer's h and c, [batch 2, hidden 4] each).
    legacy = json.loads(json.dumps(state))
    legacy.pop("tensors_file", None)
    legacy["trainer"].pop("carried_state_tensors", None)
    legacy["trainer"]["carried_state"] = [{"shape": [2, 4], "values": [0.5] * 8},
                                          {"shape": [2, 4], "values": [-0.25] * 8}]
    write("trainer_state", "legacy_json_carried_state", json.dumps(legacy))
    no_state = json.loads(json.dumps(state))
    no_state.pop("tensors_file", None)
    no_state["trainer"]["carried_state_tensors"] = 0
    write("trainer_state", "no_carried_state", json.dumps(no_state))
    write("trainer_state", "own_tensors", files(json.dumps(state), **{
        "trainer_state.safetensors": safetensors([
            ("carried_state.0", "F32", [2, 4], struct.pack("<8f", *range(8))),
            ("carried_state.1", "F32", [2, 4], struct.pack("<8f", *range(8)))])}))


def token_shards_seeds():
    def shard_files(prefix, documents, dtype):
        fmt = "<H" if dtype == "uint16" else "<i"
        tokens = b"".join(struct.pack(fmt, t) for d in documents for t in d)
        offsets, total = [0], 0
        for d in documents:
            total += len(d)
            offsets.append(total)
        return ({f"{prefix}.tokens": tokens,
                 f"{prefix}.documents": b"".join(struct.pack("<q", o) for o in offsets)},
                {"tokens_file": f"{prefix}.tokens", "documents_file": f"{prefix}.documents",
                 "token_count": total, "document_count": len(documents)})

    def directory(vocab, dtype, train_shards, validation_shards):
        named, splits = {}, {}
        for split, shards in (("train", train_shards), ("validation", validation_shards)):
            entries = []
            for index, documents in enumerate(shards):
                data, entry = shard_files(f"{split}-{index:05d}", documents, dtype)
                named.update(data)
                entries.append(entry)
            splits[split] = {"document_count": sum(e["document_count"] for e in entries),
                             "token_count": sum(e["token_count"] for e in entries),
                             "shards": entries}
        manifest = {"format": "seqtrain.token_shards", "version": 1, "vocab_size": vocab,
                    "token_dtype": dtype, "tokenizer_checksum": "fnv1a64:cee0488e33082f0d",
                    "source": "corpus.txt", "validation_fraction": 0.25, "split_seed": 0,
                    "splits": splits}
        return files(json.dumps(manifest), **named)

    write("token_shards", "uint16_two_shards",
          directory(64, "uint16", [[[5, 6, 7], [8, 9]], [[10, 11, 12, 13]]], [[[20, 21]]]))
    write("token_shards", "int32_large_vocab",
          directory(70000, "int32", [[[5, 69999, 7], [65536]]], []))
    write("token_shards", "no_validation", directory(16, "uint16", [[[5], [6, 7, 8, 9, 10]]], []))


def classification_seeds():
    # The options, which FuzzedDataProvider reads from the end: seed 5, validation
    # fraction 0, max_length 13, batch size 2, byte vocabulary.
    options = bytes([5, 0, 12, 1, 0])
    write("classification_tsv", "topics",
          b"art\tA picture is worth a thousand words.\nlaw\tThe law is an ass.\n"
          b"art\tArt is long, life is short.\nlaw\tPossession is nine tenths.\n" + options)
    write("classification_tsv", "numeric_labels_crlf",
          b"10\tten\r\n2\ttwo\r\n\r\n1\tone\twith a tab\r\n2\tdeux\r\n" + bytes([0, 1, 15, 1, 0]))
    write("classification_tsv", "with_validation", files(
        "pos\tgood \xc3\xa9t\xc3\xa9\nneg\tbad \xe6\x9d\xb1\nneg\tawful\npos\tfine\n",
        validation="pos\tgreat\nneg\tpoor \xf0\x9f\x98\x80\n") + bytes([2, 5, 4, 1, 1]))
    write("classification_tsv", "bad_line", b"label only\nx\t\n\tno label\n" + bytes([1, 1, 1, 0, 0]))


def utf8_seeds():
    write("utf8_text", "ascii", "The quick brown fox jumps over the lazy dog.\n" * 3)
    write("utf8_text", "multibyte", "Grüße aus Köln. 東京 and 😀, ½ ∑ ☃\n\nZweiter Absatz.\n")
    write("utf8_text", "crlf_bom", b"\xef\xbb\xbfline one\r\nline two\r\n")
    write("utf8_text", "invalid_sequences",
          b"ok \xc0\xaf overlong \xed\xa0\x80 surrogate \xf4\x90\x80\x80 big \xe2\x82 cut")
    write("utf8_text", "edges", "\u007f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff\n".encode() * 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainer-state-fuzzer", help="a built trainer_state_fuzzer, to write "
                        "the seed of its saved checkpoint (else the committed one is kept)")
    args = parser.parse_args()
    run_config()
    safetensors_seeds()
    trainer_state_seeds(args.trainer_state_fuzzer)
    token_shards_seeds()
    classification_seeds()
    utf8_seeds()


if __name__ == "__main__":
    main()
