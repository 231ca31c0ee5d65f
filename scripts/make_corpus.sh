#!/usr/bin/env bash
# make_corpus.sh OUT: writes the fortune databases (Debian's fortunes packages)
# as one plain-text corpus. Skips the work when OUT already exists.
set -euo pipefail
out="${1:?usage: make_corpus.sh OUT}"
[ -s "$out" ] && exit 0
source_dir=/usr/share/games/fortunes
[ -d "$source_dir" ] || { echo "make_corpus.sh: $source_dir is missing: run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
for file in "$source_dir"/*; do
  case "$file" in *.dat|*.u8) continue ;; esac
  [ -f "$file" ] || continue
  sed 's/^%$//' "$file" | iconv -f utf-8 -t utf-8 -c
done > "$tmp"
mv "$tmp" "$out"
echo "corpus: $out ($(wc -c < "$out") bytes)"
