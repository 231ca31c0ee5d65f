#!/usr/bin/env bash
# make_classification_data.sh OUT: a sequence-classification data set from the
# fortune databases: which database (topic) a fortune comes from, one example
# per line as `label<TAB>text` (docs/data_formats.md), newlines and tabs in a
# fortune replaced by spaces. Four topics with 600-1200 fortunes each.
# Skips the work when OUT already exists.
set -euo pipefail
out="${1:?usage: make_classification_data.sh OUT}"
[ -s "$out" ] && exit 0
source_dir=/usr/share/games/fortunes
[ -d "$source_dir" ] || { echo "make_classification_data.sh: $source_dir is missing: run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
for topic in computers definitions politics songs-poems; do
  iconv -f utf-8 -t utf-8 -c "$source_dir/$topic" |
    awk -v label="$topic" '
      /^%$/ { if (text != "") print label "\t" text; text = ""; next }
      { gsub(/\t/, " "); gsub(/^ +| +$/, ""); if ($0 == "") next; text = (text == "" ? $0 : text " " $0) }
      END { if (text != "") print label "\t" text }'
done > "$tmp"
mv "$tmp" "$out"
echo "classification data: $out ($(wc -l < "$out") examples)"
