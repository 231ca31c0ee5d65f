// Helpers for the masked-LM data tests: English-like text the tests generate
// themselves (documents of sentences over a small word list, blank lines
// between documents), and a small tokenizer trained on it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "data/sentencepiece_tokenizer.h"
#include "seqtrain/rng.h"

namespace seqtrain::testing {

inline constexpr const char* kCorpusWords[] = {
    "the",    "a",      "cat",     "dog",    "sat",     "on",      "mat",    "and",
    "ran",    "to",     "house",   "garden", "quick",   "brown",   "fox",    "jumps",
    "over",   "lazy",   "river",   "stone",  "morning", "evening", "light",  "dark",
    "winter", "summer", "reads",   "book",   "writes",  "letter",  "friend", "old",
    "new",    "small",  "large",   "green",  "blue",    "tree",    "under",  "between",
    "people", "city",   "country", "road",   "window",  "table",   "bread",  "water"};

// `documents` documents of 1-5 sentences of 3-11 words each; a pure function
// of (documents, seed).
inline std::string generated_corpus(int documents, std::uint64_t seed = 7) {
  Rng rng(seed, 0);
  const std::uint64_t word_count = sizeof(kCorpusWords) / sizeof(kCorpusWords[0]);
  std::string text;
  for (int d = 0; d < documents; ++d) {
    const std::uint64_t sentences = 1 + rng.next_below(5);
    for (std::uint64_t s = 0; s < sentences; ++s) {
      const std::uint64_t words = 3 + rng.next_below(9);
      std::string sentence;
      for (std::uint64_t w = 0; w < words; ++w) {
        std::string word = kCorpusWords[rng.next_below(word_count)];
        if (w == 0) word[0] = static_cast<char>(word[0] - 'a' + 'A');
        sentence += (w == 0 ? "" : " ") + word;
      }
      text += sentence + (rng.next_below(4) == 0 ? "!" : ".") + "\n";
    }
    text += "\n";
  }
  return text;
}

inline constexpr std::int64_t kSmallVocabSize = 120;

}  // namespace seqtrain::testing
