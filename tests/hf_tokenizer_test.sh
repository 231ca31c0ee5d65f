#!/usr/bin/env bash
# A tiny BERT's checkpoint (and a `seqtrain tokenizer train` directory) load in
# Hugging Face's AutoTokenizer, which gives seqtrain's token ids on every line
# of a test text: corpus lines, text that spells out [MASK] and the other
# special tokens, odd whitespace, characters the tokenizer never saw
# (scripts/check_hf_tokenizer.py; `seqtrain tokenizer encode` on our side).
# Usage: tests/hf_tokenizer_test.sh BUILD_DIR  (77: transformers or tokenizers
# missing for python3; scripts/setup.sh installs both, not torch)
set -euo pipefail
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
source_dir=$(cd "$(dirname "$0")/.." && pwd)
python3 -c "import transformers, tokenizers" 2>/dev/null ||
  { echo "hf tokenizer test: SKIP (python3 -m pip install tokenizers transformers)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "hf tokenizer test: FAIL: $*" >&2; exit 1; }
seqtrain() { OMP_WAIT_POLICY=passive "$build/seqtrain" "$@"; }

head -c 60000 "$source_dir/data/fortunes.txt" >"$work/corpus.txt"
cat >"$work/bert.yaml" <<YAML
task: mlm
seed: 3
threads: 1
run_dir: $work/run
model:
  bert: {hidden_size: 32, layers: 1, heads: 1, intermediate_size: 32, max_positions: 32}
data:
  path: $work/corpus.txt
  sequence_length: 32
  batch_size: 4
  tokenizer: {vocab_size: 400}
training: {steps: 2, eval_every: 0, eval_batches: 1, log_every: 1}
YAML
seqtrain train "$work/bert.yaml" >"$work/train.log" 2>&1 || fail "training: $(tail -3 "$work/train.log")"
checkpoint="$work/run/checkpoints/step_2"
for file in tokenizer.json tokenizer_config.json special_tokens_map.json; do
  [ -s "$checkpoint/$file" ] || fail "the checkpoint has no $file"
done

{ head -c 20000 "$source_dir/data/fortunes.txt"
  printf 'The [MASK] sat on the [MASK].\n[MASK] starts this line\n'
  printf '  runs  of   spaces\tand a tab \n[CLS] spelled [SEP] out [PAD][UNK]\n'
  printf 'unseen: 漢字 😀😀 ﬁ ① café\n\n'
} >"$work/text.txt"
python3 "$source_dir/scripts/check_hf_tokenizer.py" "$build/seqtrain" "$checkpoint" "$work/text.txt" ||
  fail "the checkpoint's tokenizer.json disagrees with seqtrain"

seqtrain tokenizer train --input "$work/corpus.txt" --vocab-size 300 --output "$work/tokenizer" \
  >/dev/null 2>&1 || fail "tokenizer train"
python3 "$source_dir/scripts/check_hf_tokenizer.py" "$build/seqtrain" "$work/tokenizer" "$work/text.txt" ||
  fail "tokenizer train's tokenizer.json disagrees with seqtrain"
echo "hf tokenizer test: OK"
