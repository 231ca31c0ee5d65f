// Sampling text from a character language model: feed the prompt, then draw
// one symbol at a time from softmax(logits / temperature), optionally among the
// top k, carrying the recurrent state (or, for a model without state, a
// causal Transformer, re-encoding the last SequenceModel::sampling_window()
// symbols of the text so far every step).
#pragma once

#include <cstdint>
#include <string>

#include "data/char_vocabulary.h"
#include "models/sequence_model.h"
#include "seqtrain/backend.h"

namespace seqtrain {

struct SamplingOptions {
  std::string prompt = "\n";
  std::int64_t length = 200;
  double temperature = 1.0;
  std::int64_t top_k = 0;
  std::uint64_t seed = 0;
  bool greedy = false;  // the likeliest symbol every step (no randomness)
};

// The prompt followed by `length` sampled symbols (or, greedy, the likeliest
// ones). An empty prompt starts from a newline.
std::string sample_text(const SequenceModel& model, Backend& backend, ParameterStore& parameters,
                        const CharVocabulary& vocabulary, const SamplingOptions& options);

// Draws an index from logits at a temperature among the top_k largest (0 = all),
// with uniform u in [0, 1).
std::int32_t sample_index(const float* logits, std::int32_t count, double temperature,
                          std::int64_t top_k, float u);

}  // namespace seqtrain
