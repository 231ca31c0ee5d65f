#include "data/mlm_sequence_packing.h"

#include <algorithm>

#include "seqtrain/error.h"

namespace seqtrain {

MlmSequencePacking::MlmSequencePacking(const TokenSplit& split, std::int64_t sequence_length)
    : split_(&split), sequence_length_(sequence_length) {
  SEQTRAIN_CHECK(sequence_length >= 3, "sequence length {} leaves no room between [CLS] and [SEP]",
                 sequence_length);
  document_starts_.reserve(static_cast<std::size_t>(split.document_count()));
  for (std::int64_t d = 0; d < split.document_count(); ++d) {
    if (d > 0) ++stream_length_;  // the [SEP] before document d
    document_starts_.push_back(stream_length_);
    stream_length_ += split.document_length(d);
  }
  const std::int64_t content = sequence_length - 2;
  sequence_count_ = (stream_length_ + content - 1) / content;
}

std::int64_t MlmSequencePacking::fill(std::int64_t index, std::span<std::int32_t> out) const {
  SEQTRAIN_CHECK(index >= 0 && index < sequence_count_ &&
                     static_cast<std::int64_t>(out.size()) == sequence_length_,
                 "sequence {} of {} into {} slots (T = {})", index, sequence_count_, out.size(),
                 sequence_length_);
  const std::int64_t content = sequence_length_ - 2;
  const std::int64_t begin = index * content;
  const std::int64_t end = std::min(begin + content, stream_length_);
  std::int64_t t = 0;
  out[static_cast<std::size_t>(t++)] = kClsTokenId;
  // The document holding (or followed by the [SEP] at) stream offset `begin`.
  auto document = static_cast<std::int64_t>(
      std::upper_bound(document_starts_.begin(), document_starts_.end(), begin) -
      document_starts_.begin() - 1);
  std::int64_t position = begin;
  while (position < end) {
    const std::int64_t start = document_starts_[static_cast<std::size_t>(document)];
    const std::int64_t length = split_->document_length(document);
    const std::int64_t offset = position - start;
    if (offset < length) {
      const std::int64_t count = std::min(length - offset, end - position);
      split_->copy_tokens(document, offset, count, out.data() + t);
      t += count;
      position += count;
    } else {  // offset == length: the separator after this document
      out[static_cast<std::size_t>(t++)] = kSepTokenId;
      ++position;
      ++document;
    }
  }
  out[static_cast<std::size_t>(t++)] = kSepTokenId;
  std::fill(out.begin() + t, out.end(), kPadTokenId);
  return t;
}

}  // namespace seqtrain
