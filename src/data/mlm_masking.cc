#include "data/mlm_masking.h"

#include <algorithm>
#include <cmath>

#include "data/sentencepiece_tokenizer.h"
#include "seqtrain/error.h"

namespace seqtrain {

void validate_mlm_masking_options(const MlmMaskingOptions& options) {
  auto check_share = [](double value, const char* name, bool allow_zero) {
    if (!(value <= 1.0 && (allow_zero ? value >= 0.0 : value > 0.0)))
      throw ConfigError(fmt::format("masking {} must be in {}0, 1], got {}", name,
                                    allow_zero ? "[" : "(", value));
  };
  check_share(options.mask_rate, "rate", false);
  check_share(options.replace_with_mask, "share replaced with [MASK]", true);
  check_share(options.replace_with_random, "share replaced with a random token", true);
  if (options.replace_with_mask + options.replace_with_random > 1.0)
    throw ConfigError(fmt::format(
        "masking shares replaced with [MASK] ({}) and with a random token ({}) add up to more "
        "than 1; the rest of the masked tokens stay unchanged",
        options.replace_with_mask, options.replace_with_random));
}

bool is_maskable_token(std::int32_t id) {
  return id == kUnknownTokenId || id >= kFirstRegularTokenId;
}

std::int64_t mlm_masked_per_sequence(std::int64_t sequence_length, double mask_rate) {
  const std::int64_t maskable = std::max<std::int64_t>(sequence_length - 2, 0);
  return std::max<std::int64_t>(1, std::llround(mask_rate * static_cast<double>(maskable)));
}

MlmMaskedTokens mlm_mask_tokens(std::span<std::int32_t> ids, std::int64_t vocab_size,
                                std::int64_t capacity, const MlmMaskingOptions& options, Rng& rng) {
  SEQTRAIN_CHECK(vocab_size > kFirstRegularTokenId, "vocabulary of {} has no learned pieces",
                 vocab_size);
  std::vector<std::int32_t> candidates;
  for (std::size_t t = 0; t < ids.size(); ++t)
    if (is_maskable_token(ids[t])) candidates.push_back(static_cast<std::int32_t>(t));
  MlmMaskedTokens masked;
  const auto n = static_cast<std::int64_t>(candidates.size());
  if (n == 0) return masked;
  const std::int64_t k = std::min(
      {capacity, n,
       std::max<std::int64_t>(1, std::llround(options.mask_rate * static_cast<double>(n)))});

  // Partial Fisher-Yates: after step j, candidates[0..j] is a uniform sample.
  for (std::int64_t j = 0; j < k; ++j) {
    const auto pick =
        j + static_cast<std::int64_t>(rng.next_below(static_cast<std::uint64_t>(n - j)));
    std::swap(candidates[static_cast<std::size_t>(j)], candidates[static_cast<std::size_t>(pick)]);
  }
  masked.positions.assign(candidates.begin(), candidates.begin() + k);
  std::sort(masked.positions.begin(), masked.positions.end());

  const auto regular_count = static_cast<std::uint64_t>(vocab_size - kFirstRegularTokenId);
  masked.labels.reserve(masked.positions.size());
  for (std::int32_t position : masked.positions) {
    std::int32_t& id = ids[static_cast<std::size_t>(position)];
    masked.labels.push_back(id);
    const double draw = rng.next_uniform();
    if (draw < options.replace_with_mask)
      id = kMaskTokenId;
    else if (draw < options.replace_with_mask + options.replace_with_random)
      id = kFirstRegularTokenId + static_cast<std::int32_t>(rng.next_below(regular_count));
  }
  return masked;
}

}  // namespace seqtrain
